import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { DriverError } from '../../core/errors.js';
import type { ProcessServiceSpec, ServiceSpec } from '../../spec/schema.js';

export interface SpawnTarget {
  id: string;
  service: string;
  revision: number;
  host: string;
  port: number;
  spec: ServiceSpec;
  /** Extra environment set by the runtime (after the spec's). */
  env?: Record<string, string>;
}

/** argv of a process spec: a string command is split on whitespace, an array is taken as is; then `args`. */
export function argv(spec: ProcessServiceSpec): string[] {
  const command = typeof spec.command === 'string' ? spec.command.split(/\s+/).filter(Boolean) : spec.command;
  return [...command, ...spec.args];
}

/**
 * Spawns an instance in its own process group (detached), its stdout and stderr appended to `logFile` by
 * descriptor: no pipe to Baton, so it neither holds Baton up nor dies of SIGPIPE when Baton goes.
 * Resolves once the OS started it; a command that cannot start is a DriverError (and a line in the log).
 */
export async function spawnDetached(
  t: SpawnTarget,
  logFile: string,
  /** Called synchronously with the pid as soon as the OS created the process, before any await. */
  onPid: (pid: number) => void = () => undefined,
): Promise<ChildProcess> {
  const spec = t.spec;
  if (spec.runtime !== 'process') throw new DriverError('process', `instance ${t.id}: not a process service`);
  const [file, ...args] = argv(spec);
  if (!file) throw new DriverError('process', `instance ${t.id}: empty command`);
  const cwd = path.resolve(spec.cwd ?? '.');
  // Owner-only: an app's output may quote its secrets.
  mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
  const out = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(file, args, {
      cwd,
      detached: true,
      stdio: ['ignore', out, out],
      env: {
        ...process.env,
        ...t.spec.env,
        PORT: String(t.port),
        HOST: t.host,
        BATON_SERVICE: t.service,
        BATON_REVISION: String(t.revision),
        BATON_INSTANCE: t.id,
        ...t.env,
      },
    });
    if (child.pid !== undefined) onPid(child.pid);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    return child;
  } catch (err) {
    const message = `cannot start ${file} in ${cwd}: ${(err as Error).message}`;
    writeSync(out, `baton: ${message}\n`);
    throw new DriverError('process', `instance ${t.id}: ${message}`, err);
  } finally {
    closeSync(out);
  }
}
