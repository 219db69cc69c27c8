import type { Instance } from '../core/types.js';
import type { Deployer } from '../engine/deployer.js';
import type { EngineDeps } from '../engine/deps.js';
import type { BackendState, RouteStatus } from '../router/router.js';
import { redactRevision } from './redact.js';

export interface ServiceStatus {
  service: string;
  /** The revision serving — or, for a stopped or destroyed service, the last one that served. */
  current: number | null;
  /** Left down by `baton stop` or `baton destroy`: the supervisor does not restart it. */
  stopped: boolean;
  /** When `baton destroy` removed its instances, backends and route (history kept); null otherwise. */
  destroyed: string | null;
  replicas: number | null;
  listen: string | null;
  /** Deployment holding the lock, if a deploy runs now. */
  deploying: string | null;
  /** Who holds the deploy lock. */
  lock: { holder: string; since: string; deployment?: string | undefined } | null;
  /** What the running deployment waits for (promotion, resume, analysis), and whether it is paused. */
  waiting: string | null;
  paused: boolean;
  /** Traffic split between revisions (canary: the hybrid state), maintenance or hold. */
  split: RouteStatus['split'] | null;
  mode: RouteStatus['mode'] | null;
  instances: Array<Instance & { routed: BackendState | 'none'; healthy: boolean | null; inFlight: number }>;
  route: RouteStatus | null;
}

export async function serviceStatus(
  deps: EngineDeps,
  name: string,
  activity?: Deployer['activity'],
): Promise<ServiceStatus | undefined> {
  const record = await deps.repo.getService(name);
  if (!record) return undefined;
  const [revision, instances, route, lock] = await Promise.all([
    record.current != null ? deps.repo.getRevision(name, record.current) : undefined,
    deps.runtime.list(name),
    deps.router.status(name),
    deps.repo.getLock(name),
  ]);
  const backends = new Map(route?.backends.map((b) => [b.id, b]));
  return {
    service: name,
    current: record.current,
    stopped: record.stopped ?? false,
    destroyed: record.destroyed ?? null,
    replicas: revision ? redactRevision(revision).spec.replicas : null,
    listen: revision?.spec.traffic.listen ?? null,
    deploying: lock?.deployment ?? null,
    lock: lock ? { holder: lock.holder, since: lock.since, deployment: lock.deployment } : null,
    waiting: activity?.(name)?.waiting ?? null,
    paused: activity?.(name)?.paused ?? false,
    split: route?.split ?? null,
    mode: route?.mode ?? null,
    instances: instances.map((i) => {
      const b = backends.get(i.id);
      return { ...i, routed: b?.state ?? 'none', healthy: b ? b.healthy : null, inFlight: b?.inFlight ?? 0 };
    }),
    route: route ?? null,
  };
}

/** Every service's status; with `only`, just the services it keeps (a token's scope). */
export async function allStatus(
  deps: EngineDeps,
  activity?: Deployer['activity'],
  only: (service: string) => boolean = () => true,
): Promise<ServiceStatus[]> {
  const services = (await deps.repo.listServices()).filter((s) => only(s.name));
  const out = await Promise.all(services.map((s) => serviceStatus(deps, s.name, activity)));
  return out.filter((s): s is ServiceStatus => s !== undefined);
}
