import { open, readFile, rename } from 'node:fs/promises';
import type { BackendState, RevisionSplit, RouteConfig, RouteMode } from '../router.js';
import { ServiceTable } from './service.js';

/** What `<dataDir>/proxy/state.json` holds: enough to serve again after a restart. */
export interface Snapshot {
  version: 1;
  routes: SnapshotRoute[];
  /** The proxy's HTTP listener (ACME challenges, redirects to https), once asked for. */
  httpListen?: string;
  /** ACME HTTP-01 answers in flight: token -> key authorization. */
  challenges?: Record<string, string>;
}

export interface SnapshotRoute extends RouteConfig {
  backends: SnapshotBackend[];
  /** Absent in snapshots written before progressive delivery: no split, no preview, serving. */
  split?: RevisionSplit | null;
  previewRevision?: number | null;
  mode?: RouteMode;
}

export interface SnapshotBackend {
  id: string;
  address: string;
  revision: number;
  weight: number;
  state: BackendState;
  healthy: boolean;
}

/**
 * Reads the snapshot; a missing file is an empty one. A file that cannot be parsed is moved aside
 * (`state.json.corrupt-<time>`) and reported, so the proxy still starts. With `strict` (a proxy taking
 * over from a running one, which keeps serving if this fails) an unreadable file is an error instead.
 */
export async function loadSnapshot(
  path: string,
  strict = false,
): Promise<{ snapshot: Snapshot; corrupt?: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { snapshot: { version: 1, routes: [] } };
    if (strict) throw new Error(`cannot read snapshot ${path}: ${(e as Error).message}`);
    throw e;
  }
  try {
    const parsed = JSON.parse(text) as Snapshot;
    if (parsed.version !== 1 || !Array.isArray(parsed.routes)) throw new Error('unknown snapshot format');
    return { snapshot: parsed };
  } catch (e) {
    if (strict) throw new Error(`cannot read snapshot ${path}: ${(e as Error).message}`);
    const aside = `${path}.corrupt-${Date.now()}`;
    await rename(path, aside);
    return { snapshot: { version: 1, routes: [] }, corrupt: aside };
  }
}

let seq = 0;

/** Writes the file atomically: a temporary file in the same directory, fsync, rename. */
export async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${++seq}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** The snapshot of these backend tables. */
export function snapshotOf(tables: ServiceTable[]): Snapshot {
  return {
    version: 1,
    routes: tables.map((t) => ({
      service: t.service,
      listen: t.listen,
      drainTimeoutMs: t.drainTimeoutMs,
      keepAliveTimeoutMs: t.keepAliveTimeoutMs,
      ...(t.preview === undefined ? {} : { preview: t.preview }),
      ...(t.given === undefined ? {} : { limits: t.given }),
      ...(t.hosts.length === 0 ? {} : { hosts: t.hosts }),
      ...(t.pathPrefix === '/' ? {} : { pathPrefix: t.pathPrefix }),
      ...(t.tls === undefined ? {} : { tls: t.tls, redirectHttp: t.redirectHttp }),
      ...(t.upstream === 'http1' ? {} : { upstream: t.upstream }),
      split: t.split?.split ?? null,
      previewRevision: t.previewRevision,
      mode: t.mode,
      backends: t.list.map((b) => ({
        id: b.id,
        address: b.address,
        revision: b.revision,
        weight: b.weight,
        state: b.state,
        healthy: b.healthy,
      })),
    })),
  };
}

/** A backend table restored from its snapshot (states, health, split, preview revision and mode). */
export function tableFrom(r: SnapshotRoute): ServiceTable {
  const table = new ServiceTable(r);
  table.add(r.backends);
  for (const b of r.backends) {
    const e = table.byId.get(b.id)!;
    e.state = b.state;
    e.healthy = b.healthy;
  }
  table.setSplit(r.split ?? null);
  table.previewRevision = r.previewRevision ?? null;
  table.setMode(r.mode ?? { kind: 'serve' });
  return table;
}
