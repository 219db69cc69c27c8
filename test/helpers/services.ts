import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What every `require*` does when something a test needs is missing: under `CI=true` throw, so the suite
 * FAILS with what to do; locally warn loudly (the caller then skips). Never a silent skip.
 */
export function missing(label: string, message: string): false {
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: failing instead of skipping)`);
  console.warn(`\n${'!'.repeat(100)}\nSKIPPING ${label}: ${message}\n${'!'.repeat(100)}\n`);
  return false;
}

/**
 * Whether the built files a test runs as real processes exist (`dist/`, from `npm run build`, which
 * `npm test` runs first). When one is missing: fails under CI, skips loudly elsewhere
 * (`describe.runIf(requireBuilt(ENTRY))`).
 */
export function requireBuilt(...files: string[]): boolean {
  const absent = files.filter((f) => !existsSync(f));
  if (!absent.length) return true;
  const root = fileURLToPath(new URL('../..', import.meta.url));
  return missing(
    'TESTS OF THE BUILT PROXY',
    `${absent.map((f) => relative(root, f)).join(', ')} missing: run \`npm run build\` first (npm test does)`,
  );
}

let docker: boolean | undefined;

/**
 * Whether a Docker daemon answers (`docker info`). When it does not: under `CI=true` this throws, so the
 * suite FAILS with what to install; locally it warns loudly and returns false, and the caller skips
 * (`describe.skipIf(!requireDocker())`). `npm test` starts dockerd first when it can (scripts/test.mjs).
 */
export function requireDocker(): boolean {
  if (docker !== undefined) return docker;
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  docker = r.status === 0 && r.stdout.trim().length > 0;
  if (docker) return true;
  const why = (r.error?.message ?? r.stderr ?? '').trim().split('\n')[0];
  const message = `Docker is not usable here (${why || `docker info exited ${r.status}`}): the docker runtime tests need a running dockerd. Install it (Debian/Ubuntu: apt-get install -y docker.io), start it (dockerd &, or systemctl start docker) and make /var/run/docker.sock accessible to this user.`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: failing instead of skipping)`);
  console.warn(`\n${'!'.repeat(100)}\nSKIPPING DOCKER TESTS: ${message}\n${'!'.repeat(100)}\n`);
  return false;
}
