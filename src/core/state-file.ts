import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DriverError } from './errors.js';

/**
 * A driver's JSON state file: what it created or changed outside Baton (OCIDs, load balancer backends,
 * HAProxy servers), kept on disk so a restarted control plane finds it. Undefined when there is none yet;
 * an unreadable or broken file is a DriverError naming it (never silently an empty state: that would
 * orphan whatever the file listed).
 */
export function readStateFile<T>(file: string, driver: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DriverError(driver, `cannot read ${file}: ${(e as Error).message}`, e);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new DriverError(driver, `state file ${file} is not valid JSON: ${(e as Error).message}`, e);
  }
}

/**
 * Writes it whole and atomically (a temporary file beside it, then rename: a crash leaves the old file or
 * the new one, never half of one), readable by the owner only (it may name private addresses).
 */
export function writeStateFile(file: string, body: unknown): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
