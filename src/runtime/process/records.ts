import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { InstanceState } from '../../core/types.js';
import type { ServiceSpec } from '../../spec/schema.js';

/** What the process runtime keeps about one instance, as `<stateDir>/<id>.json`. */
export interface InstanceRecord {
  id: string;
  service: string;
  revision: number;
  deployment: string;
  host: string;
  port: number;
  pid: number;
  /** Field 22 of /proc/<pid>/stat when it was started; tells a reused PID from ours. */
  pidStartTime: number | null;
  startedAt: string;
  restarts: number;
  spec: ServiceSpec;
  /** As Baton last knew it: `running` until it saw an exit or stopped it. */
  state: InstanceState;
  exitCode?: number | null;
  signal?: string | null;
  stoppedAt?: string;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const INTENT = '.spawning';

/** Environment variable carrying an intent's token into the spawned process. */
export const SPAWN_TOKEN_ENV = 'BATON_SPAWN_TOKEN';

export interface SpawnIntent {
  base: Omit<InstanceRecord, 'pid' | 'pidStartTime' | 'startedAt' | 'state'>;
  token: string;
  /** When it was written (ms since the epoch). */
  at: number;
}

/** Instance records in a directory; each write is atomic (tmp file + rename). Files are 0600: env may hold secrets. */
export class RecordDir {
  constructor(readonly dir: string) {}

  file(id: string): string {
    if (!ID.test(id)) throw new Error(`invalid instance id ${JSON.stringify(id)}`);
    return path.join(this.dir, `${id}.json`);
  }

  async read(id: string): Promise<InstanceRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.file(id), 'utf8')) as InstanceRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async write(rec: InstanceRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.file(rec.id);
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  }

  /**
   * As `write`, without yielding: a process just spawned is on record before anything else can run, so
   * a caller killed right after (an agent SIGKILLed mid-update) leaves no instance that nobody can find.
   */
  writeSync(rec: InstanceRecord): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.file(rec.id);
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  }

  /**
   * An intent: what is about to be spawned (the record without its pid) and the token its environment
   * will carry, written synchronously before the spawn. A Baton killed while the OS creates the process
   * (fork and exec take milliseconds) leaves an intent from which the process can still be found.
   */
  writeIntentSync(intent: SpawnIntent): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.intentFile(intent.base.id);
    writeFileSync(`${file}.tmp`, JSON.stringify(intent), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  removeIntentSync(id: string): void {
    rmSync(this.intentFile(id), { force: true });
  }

  async intents(): Promise<SpawnIntent[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: SpawnIntent[] = [];
    for (const n of names.filter((x) => x.endsWith(INTENT))) {
      try {
        out.push(JSON.parse(await readFile(path.join(this.dir, n), 'utf8')) as SpawnIntent);
      } catch {
        // Half written (the writer died before its rename leaves only the .tmp): nothing was spawned.
      }
    }
    return out;
  }

  private intentFile(id: string): string {
    return `${this.file(id).slice(0, -'.json'.length)}${INTENT}`;
  }

  async remove(id: string): Promise<void> {
    await rm(this.file(id), { force: true });
  }

  /** Every readable record; unreadable files are passed to `onBad` and skipped. */
  async all(onBad: (file: string, err: unknown) => void): Promise<InstanceRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: InstanceRecord[] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      try {
        const rec = await this.read(name.slice(0, -'.json'.length));
        if (rec) out.push(rec);
      } catch (err) {
        onBad(path.join(this.dir, name), err);
      }
    }
    return out;
  }
}
