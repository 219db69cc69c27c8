import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { type ServiceSpec, serviceSchema } from '../../src/spec/schema.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const HELLO = path.join(REPO, 'examples/hello/server.js');
export const fixture = (name: string) => path.join(REPO, 'test/fixtures', name);

/** A process-runtime spec running `script` (default the hello app) with node. */
export function nodeSpec(env: Record<string, string> = {}, script = HELLO): ServiceSpec {
  return serviceSchema.parse({
    runtime: 'process',
    command: [process.execPath, script],
    env,
    traffic: { listen: '127.0.0.1:1' },
    stopTimeout: '5s',
  });
}

/** Temp state and log dirs, and a cleanup that kills every instance recorded there (by process group). */
export async function processHarness() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'baton-rt-'));
  const dirs = { stateDir: path.join(dataDir, 'instances'), logDir: path.join(dataDir, 'logs') };
  const runtimes: ProcessRuntime[] = [];
  const make = () => {
    const r = new ProcessRuntime(dirs);
    runtimes.push(r);
    return r;
  };
  const cleanup = async () => {
    for (const i of await make().list()) {
      try {
        process.kill(-i.pid!, 'SIGKILL');
      } catch {}
    }
    await Promise.all(runtimes.map((r) => r.close()));
    await rm(dataDir, { recursive: true, force: true });
  };
  return { dataDir, dirs, make, cleanup };
}
