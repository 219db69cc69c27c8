import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DriverError } from '../../core/errors.js';
import { BackendState } from '../router.js';
import type { RouteRecord } from './record.js';

interface StateFile {
  version: 1;
  routes: RouteRecord[];
}

/**
 * Baton's record of its ALB routes on disk (written whole and atomically), so a restarted control plane
 * knows which targets it registered — the only ones it ever deregisters — and what each backend is for.
 * `applied` (the listener actions last sent) is not trusted after a restart: the next change sends them
 * again. While a change runs, the file holds its intent (see `intent`).
 */
export class AlbRouteBook {
  constructor(private readonly file: string) {}

  load(): RouteRecord[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new DriverError('alb', `cannot read ${this.file}: ${(e as Error).message}`, e);
    }
    try {
      return ((JSON.parse(text) as StateFile).routes ?? []).map((r) => ({ ...r, applied: {} }));
    } catch (e) {
      throw new DriverError('alb', `state file ${this.file} is not valid JSON: ${(e as Error).message}`, e);
    }
  }

  save(routes: RouteRecord[]): void {
    const body: StateFile = { version: 1, routes };
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

/**
 * What to keep on disk while a change from `r` to `next` runs: `next`, plus every backend of `r` that
 * `next` drops, as draining — a process that dies in the middle may have registered the new targets and
 * not yet deregistered the old ones, and the next one must know both to finish or undo the change.
 */
export function intent(r: RouteRecord, next: RouteRecord): RouteRecord {
  const out = structuredClone(next);
  for (const b of r.backends)
    if (!out.backends.some((x) => x.id === b.id)) out.backends.push({ ...b, state: BackendState.Draining });
  out.applied = {};
  return out;
}
