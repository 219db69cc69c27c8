import { randomUUID } from 'node:crypto';
import { error, type FakeHttp, notFound, type Reply } from './http.js';

const V = '/20170115';

export interface FakeBackend {
  name: string;
  ipAddress: string;
  port: number;
  weight: number;
  drain: boolean;
  backup: boolean;
  offline: boolean;
  /** What the next health GETs answer, in turn; the last one sticks. */
  health: string[];
}

export interface FakeBackendSet {
  name: string;
  policy: string;
  healthChecker: Record<string, unknown>;
  backends: Map<string, FakeBackend>;
}

export interface FakeLoadBalancer {
  id: string;
  compartmentId: string;
  displayName: string;
  freeformTags: Record<string, string>;
  definedTags: Record<string, Record<string, unknown>>;
  backendSets: Map<string, FakeBackendSet>;
}

interface WorkRequest {
  id: string;
  loadBalancerId: string;
  type: string;
  lifecycleState: 'ACCEPTED' | 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED';
  message: string;
  timeAccepted: string;
  timeFinished?: string | undefined;
  errorDetails: Array<{ errorCode: string; message: string }>;
  effect: () => string | undefined;
}

const ocid = (kind: string) => `ocid1.${kind}.oc1.fake.${randomUUID().replaceAll('-', '')}`;
const BS = `${V}/loadBalancers/{lb}/backendSets/{bs}`;

/**
 * Load Balancing (20170115): load balancers, backend sets, backends, backend health and work requests.
 * Every change answers 204 with `opc-work-request-id` and happens when its work request, read with
 * GetWorkRequest, goes ACCEPTED → IN_PROGRESS → SUCCEEDED (one step per read). Until then a new backend
 * does not exist: GET and its health answer 404.
 */
export class FakeLoadBalancing {
  readonly lbs = new Map<string, FakeLoadBalancer>();
  private readonly wrs = new Map<string, WorkRequest>();
  /** Health answers of a new backend, in turn (default `['OK']`; `'404'` answers Not Found). */
  healthOf: (backendName: string, backendSet: string) => string[] = () => ['OK'];
  /** Work requests of this type fail with the message returned (nothing changes). */
  failWorkRequests: ((type: string) => string | undefined) | undefined;

  constructor(http: FakeHttp) {
    http.route('GET', `${V}/loadBalancers`, 'ListLoadBalancers', (c) => this.list(c.query));
    http.route('GET', `${V}/loadBalancers/{lb}`, 'GetLoadBalancer', (c) =>
      this.withLb(c.params, (lb) => ok(view(lb))),
    );
    http.route('GET', `${V}/loadBalancerWorkRequests/{id}`, 'GetWorkRequest', (c) =>
      this.workRequest(c.params.id!),
    );
    http.route('GET', BS, 'GetBackendSet', (c) => this.withSet(c.params, (_, bs) => ok(setView(bs))));
    http.route('POST', `${V}/loadBalancers/{lb}/backendSets`, 'CreateBackendSet', (c) =>
      this.withLb(c.params, (lb) => this.createSet(lb, c.body as Record<string, unknown>)),
    );
    http.route('GET', `${BS}/backends`, 'ListBackends', (c) =>
      this.withSet(c.params, (_, bs) => ok([...bs.backends.values()].map(backendView))),
    );
    http.route('POST', `${BS}/backends`, 'CreateBackend', (c) =>
      this.withSet(c.params, (lb, bs) => this.createBackend(lb, bs, c.body as Record<string, unknown>)),
    );
    http.route('GET', `${BS}/backends/{b}`, 'GetBackend', (c) =>
      this.withBackend(c.params, (_, __, b) => ok(backendView(b))),
    );
    http.route('PUT', `${BS}/backends/{b}`, 'UpdateBackend', (c) =>
      this.withBackend(c.params, (lb, _, b) => {
        const d = c.body as Partial<FakeBackend>;
        const missing = ['weight', 'backup', 'drain', 'offline'].filter((k) => !(k in (d ?? {})));
        if (missing.length) return error(400, 'InvalidParameter', `missing ${missing.join(', ')}`);
        return this.work(lb, 'UpdateBackend', () => {
          Object.assign(b, { weight: d.weight, backup: d.backup, drain: d.drain, offline: d.offline });
          return undefined;
        });
      }),
    );
    http.route('DELETE', `${BS}/backends/{b}`, 'DeleteBackend', (c) =>
      this.withBackend(c.params, (lb, bs, b) =>
        this.work(lb, 'DeleteBackend', () => {
          bs.backends.delete(b.name);
          return undefined;
        }),
      ),
    );
    http.route('GET', `${BS}/backends/{b}/health`, 'GetBackendHealth', (c) =>
      this.withBackend(c.params, (_, __, b) => {
        const status = b.health.length > 1 ? b.health.shift()! : (b.health[0] ?? 'OK');
        // '404': OCI does not know the backend's health yet (deploy-inst met this right after a create).
        if (status === '404') return notFound(`backend ${b.name} health`);
        return ok({ status, healthCheckResults: [] });
      }),
    );
  }

  /** Adds a load balancer (the user's, provisioned before Baton runs). */
  add(lb: Partial<FakeLoadBalancer> & { displayName: string; compartmentId: string }): FakeLoadBalancer {
    const full: FakeLoadBalancer = {
      id: ocid('loadbalancer'),
      freeformTags: {},
      definedTags: {},
      backendSets: new Map(),
      ...lb,
    };
    this.lbs.set(full.id, full);
    return full;
  }

  /** Adds a backend set with backends directly (pre-existing state, no work request). */
  addBackendSet(
    lb: FakeLoadBalancer,
    name: string,
    backends: Array<{ ipAddress: string; port: number }> = [],
  ): void {
    const bs: FakeBackendSet = {
      name,
      policy: 'ROUND_ROBIN',
      healthChecker: { protocol: 'HTTP', port: 0, urlPath: '/', returnCode: 200 },
      backends: new Map(),
    };
    for (const b of backends) {
      const name = `${b.ipAddress}:${b.port}`;
      bs.backends.set(name, {
        name,
        ...b,
        weight: 1,
        drain: false,
        backup: false,
        offline: false,
        health: ['OK'],
      });
    }
    lb.backendSets.set(name, bs);
  }

  private list(q: URLSearchParams): Reply {
    const compartmentId = q.get('compartmentId');
    if (!compartmentId) return error(400, 'MissingParameter', 'compartmentId is required');
    return ok([...this.lbs.values()].filter((lb) => lb.compartmentId === compartmentId).map(view));
  }

  private withLb(p: Record<string, string>, fn: (lb: FakeLoadBalancer) => Reply): Reply {
    const lb = this.lbs.get(p.lb!);
    if (!lb) return notFound(`load balancer ${p.lb}`);
    this.finishPending(lb);
    return fn(lb);
  }

  /**
   * OCI runs a work request whether or not anyone reads it: a change whose client went away (a control
   * plane killed mid-wait) still happens. Here work requests move on reads of themselves, so one nobody
   * reads any more is finished when the load balancer is next used.
   */
  private finishPending(lb: FakeLoadBalancer): void {
    for (const wr of this.wrs.values())
      if (
        wr.loadBalancerId === lb.id &&
        wr.lifecycleState !== 'SUCCEEDED' &&
        wr.lifecycleState !== 'FAILED'
      ) {
        wr.lifecycleState = 'IN_PROGRESS';
        this.workRequest(wr.id);
      }
  }

  private withSet(p: Record<string, string>, fn: (lb: FakeLoadBalancer, bs: FakeBackendSet) => Reply): Reply {
    return this.withLb(p, (lb) => {
      const bs = lb.backendSets.get(p.bs!);
      return bs ? fn(lb, bs) : notFound(`backend set ${p.bs}`);
    });
  }

  private withBackend(
    p: Record<string, string>,
    fn: (lb: FakeLoadBalancer, bs: FakeBackendSet, b: FakeBackend) => Reply,
  ): Reply {
    return this.withSet(p, (lb, bs) => {
      const b = bs.backends.get(p.b!);
      return b ? fn(lb, bs, b) : notFound(`backend ${p.b}`);
    });
  }

  private createSet(lb: FakeLoadBalancer, d: Record<string, unknown>): Reply {
    const name = d.name as string | undefined;
    const hc = d.healthChecker as Record<string, unknown> | undefined;
    if (!name || !d.policy || !hc?.protocol)
      return error(400, 'InvalidParameter', 'name, policy and healthChecker.protocol are required');
    if (lb.backendSets.has(name)) return error(409, 'Conflict', `backend set ${name} already exists`);
    return this.work(lb, 'CreateBackendSet', () => {
      if (lb.backendSets.has(name)) return `backend set ${name} already exists`;
      lb.backendSets.set(name, { name, policy: d.policy as string, healthChecker: hc, backends: new Map() });
      return undefined;
    });
  }

  private createBackend(lb: FakeLoadBalancer, bs: FakeBackendSet, d: Record<string, unknown>): Reply {
    if (typeof d.ipAddress !== 'string' || typeof d.port !== 'number')
      return error(400, 'InvalidParameter', 'ipAddress and port are required');
    const name = `${d.ipAddress}:${d.port}`;
    if (bs.backends.has(name)) return error(409, 'Conflict', `backend ${name} already exists in ${bs.name}`);
    return this.work(lb, 'CreateBackend', () => {
      if (bs.backends.has(name)) return `backend ${name} already exists`;
      bs.backends.set(name, {
        name,
        ipAddress: d.ipAddress as string,
        port: d.port as number,
        weight: (d.weight as number | undefined) ?? 1,
        drain: (d.drain as boolean | undefined) ?? false,
        backup: (d.backup as boolean | undefined) ?? false,
        offline: (d.offline as boolean | undefined) ?? false,
        health: [...this.healthOf(name, bs.name)],
      });
      return undefined;
    });
  }

  /** Accepts a change: it happens when its work request succeeds (an error message fails it). */
  private work(lb: FakeLoadBalancer, type: string, effect: () => string | undefined): Reply {
    const wr: WorkRequest = {
      id: ocid('loadbalancerworkrequest'),
      loadBalancerId: lb.id,
      type,
      lifecycleState: 'ACCEPTED',
      message: `${type} accepted`,
      timeAccepted: new Date().toISOString(),
      errorDetails: [],
      effect,
    };
    this.wrs.set(wr.id, wr);
    return { status: 204, headers: { 'opc-work-request-id': wr.id } };
  }

  private workRequest(id: string): Reply {
    const wr = this.wrs.get(id);
    if (!wr) return notFound(`work request ${id}`);
    if (wr.lifecycleState === 'ACCEPTED') wr.lifecycleState = 'IN_PROGRESS';
    else if (wr.lifecycleState === 'IN_PROGRESS') {
      const failed = this.failWorkRequests?.(wr.type) ?? wr.effect();
      wr.lifecycleState = failed ? 'FAILED' : 'SUCCEEDED';
      wr.message = failed ?? `${wr.type} succeeded`;
      if (failed) wr.errorDetails.push({ errorCode: 'BAD_INPUT', message: failed });
      wr.timeFinished = new Date().toISOString();
    }
    const { effect: _e, ...body } = wr;
    return ok(body);
  }
}

const ok = (body: unknown): Reply => ({ status: 200, body });

const backendView = (b: FakeBackend) => ({
  name: b.name,
  ipAddress: b.ipAddress,
  port: b.port,
  weight: b.weight,
  drain: b.drain,
  backup: b.backup,
  offline: b.offline,
});

const setView = (bs: FakeBackendSet) => ({
  name: bs.name,
  policy: bs.policy,
  healthChecker: bs.healthChecker,
  backends: [...bs.backends.values()].map(backendView),
});

const view = (lb: FakeLoadBalancer) => ({
  id: lb.id,
  compartmentId: lb.compartmentId,
  displayName: lb.displayName,
  lifecycleState: 'ACTIVE',
  shapeName: 'flexible',
  isPrivate: false,
  ipAddresses: [{ ipAddress: '192.0.2.10', isPublic: true }],
  listeners: {},
  backendSets: Object.fromEntries([...lb.backendSets.values()].map((bs) => [bs.name, setView(bs)])),
  freeformTags: lb.freeformTags,
  definedTags: lb.definedTags,
  timeCreated: '2026-01-01T00:00:00.000Z',
});
