import { readStateFile, writeStateFile } from '../../core/state-file.js';
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
    const saved = readStateFile<StateFile>(this.file, 'alb');
    return (saved?.routes ?? []).map((r) => ({ ...r, applied: {} }));
  }

  save(routes: RouteRecord[]): void {
    writeStateFile(this.file, { version: 1, routes } satisfies StateFile);
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
