import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './baton.js';
import { waitFor } from './wait.js';

/** Debian's `docker-registry` package (the CNCF distribution registry, v2 API). */
export const REGISTRY_BIN = '/usr/bin/docker-registry';

let available: boolean | undefined;

/**
 * Whether Debian's docker-registry is installed. When it is not: under `CI=true` this throws, so the suite
 * FAILS with what to install; locally it warns loudly and returns false, and the caller skips.
 * `npm test` installs it first when it can (scripts/test.mjs).
 */
export function requireRegistry(): boolean {
  if (available !== undefined) return available;
  available = existsSync(REGISTRY_BIN);
  if (available) return true;
  const message = `${REGISTRY_BIN} is missing: the pipeline tests push images to a local registry (Debian/Ubuntu: apt-get install -y docker-registry).`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: failing instead of skipping)`);
  console.warn(`\n${'!'.repeat(100)}\nSKIPPING REGISTRY TESTS: ${message}\n${'!'.repeat(100)}\n`);
  return false;
}

export interface Registry {
  /** `127.0.0.1:<port>`: Docker treats 127.0.0.0/8 registries as insecure (plain http) by default. */
  host: string;
  /** Tags of `repo` the registry holds (empty when it has none). */
  tags(repo: string): Promise<string[]>;
  /** SIGTERM by PID, then its storage is removed. */
  stop(): Promise<void>;
}

/** A registry on 127.0.0.1 with its own temp storage; its log is kept for failure messages. */
export async function startRegistry(): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog: { level: warn }\nstorage:\n  filesystem: { rootdirectory: ${join(dir, 'data')} }\n  delete: { enabled: true }\nhttp:\n  addr: ${host}\n`,
  );
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (c: Buffer) => {
    log = (log + c.toString()).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${log}`);
      return (await fetch(`http://${host}/v2/`).catch(() => undefined))?.ok;
    },
    { timeoutMs: 20_000, message: 'docker-registry to answer' },
  );
  return {
    host,
    async tags(repo) {
      const r = await fetch(`http://${host}/v2/${repo}/tags/list`);
      if (r.status === 404) return [];
      return (((await r.json()) as { tags: string[] | null }).tags ?? []).sort();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
