import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Mark } from './labels.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * What Docker does not record for us: that Baton stopped a container (rather than it exiting on its
 * own), how often Baton restarted it, its last host port. Kept in memory and, with a directory, in
 * `<dir>/<id>.json`, so a new runtime over the same data dir knows it too. Labels stay the source of
 * truth for what exists; a missing mark reads as "never stopped, never restarted".
 */
export class Marks {
  private readonly cache = new Map<string, Mark>();

  constructor(private readonly dir: string | undefined) {}

  async get(id: string): Promise<Mark> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    if (!this.dir || !ID.test(id)) return { restarts: 0 };
    try {
      const m = JSON.parse(await readFile(this.file(id), 'utf8')) as Mark;
      this.cache.set(id, m);
      return m;
    } catch {
      return { restarts: 0 };
    }
  }

  async set(id: string, m: Mark): Promise<void> {
    this.cache.set(id, m);
    if (!this.dir || !ID.test(id)) return;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(id)}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(m)}\n`, { mode: 0o600 });
    await rename(tmp, this.file(id));
  }

  async update(id: string, fn: (m: Mark) => Mark): Promise<Mark> {
    const next = fn(await this.get(id));
    await this.set(id, next);
    return next;
  }

  async forget(id: string): Promise<void> {
    this.cache.delete(id);
    if (this.dir && ID.test(id)) await rm(this.file(id), { force: true });
  }

  private file(id: string): string {
    return path.join(this.dir!, `${id}.json`);
  }
}
