import type { LoadBalancerClient, models } from 'oci-loadbalancer';
import type { Clock } from '../../cloud/clock.js';
import { matchesFilter } from '../../cloud/filter.js';
import { ociCall, ociFind, ociStatus } from '../../cloud/oci/errors.js';
import { pollUntil } from '../../cloud/poll.js';
import { DriverError } from '../../core/errors.js';
import type { DesiredBackend } from './desired.js';
import type { HealthChecker, OciLbRouteSettings } from './settings.js';

const D = 'oci-lb';

/**
 * The Load Balancing calls the router makes, each change followed to the end of its work request
 * (GetWorkRequest until SUCCEEDED; FAILED is a DriverError with OCI's error details).
 */
export class LbApi {
  constructor(
    private readonly lb: LoadBalancerClient,
    private readonly clock: Clock,
    private readonly pollMs: number,
  ) {}

  /** By OCID, or the one load balancer of the compartment matching the filter (none or several: error). */
  async find(s: OciLbRouteSettings): Promise<string> {
    if (s.loadBalancerId) {
      await this.get(s.loadBalancerId);
      return s.loadBalancerId;
    }
    const all: models.LoadBalancer[] = [];
    let page: string | undefined;
    do {
      const res = await ociCall(D, `list load balancers in ${s.compartmentId}`, () =>
        this.lb.listLoadBalancers({ compartmentId: s.compartmentId!, page, limit: 100 }),
      );
      all.push(...res.items);
      page = res.opcNextPage;
    } while (page);
    const hits = all.filter((lb) => matchesFilter(lb, s.filter!));
    if (hits.length !== 1)
      throw new DriverError(
        D,
        `${hits.length === 0 ? 'no load balancer' : `${hits.length} load balancers (${hits.map((h) => h.displayName).join(', ')})`} in ${s.compartmentId} match ${JSON.stringify(s.filter)}: the filter must match exactly one`,
      );
    return hits[0]!.id;
  }

  async get(id: string): Promise<models.LoadBalancer> {
    return (
      await ociCall(D, `read load balancer ${id}`, () => this.lb.getLoadBalancer({ loadBalancerId: id }))
    ).loadBalancer;
  }

  async createBackendSet(
    id: string,
    name: string,
    policy: string,
    healthChecker: HealthChecker,
  ): Promise<void> {
    await this.change(`create backend set ${name}`, () =>
      this.lb.createBackendSet({
        loadBalancerId: id,
        createBackendSetDetails: { name, policy, backends: [], healthChecker },
      }),
    );
  }

  /** Creates one backend; one that exists already (a lost answer, a repeat) is updated instead. */
  async createBackend(id: string, d: DesiredBackend): Promise<void> {
    try {
      await this.change(`create backend ${d.name} in ${d.backendSet}`, () =>
        this.lb.createBackend({
          loadBalancerId: id,
          backendSetName: d.backendSet,
          createBackendDetails: fields(d, true),
        }),
      );
    } catch (err) {
      if (ociStatus((err as Error).cause) !== 409) throw err;
      await this.updateBackend(id, d);
    }
  }

  async updateBackend(id: string, d: DesiredBackend): Promise<void> {
    await this.change(`update backend ${d.name} in ${d.backendSet}`, () =>
      this.lb.updateBackend({
        loadBalancerId: id,
        backendSetName: d.backendSet,
        backendName: d.name,
        updateBackendDetails: fields(d, false),
      }),
    );
  }

  /** Deletes one backend; a gone one (404) is fine. */
  async deleteBackend(id: string, backendSet: string, name: string): Promise<void> {
    try {
      await this.change(`delete backend ${name} in ${backendSet}`, () =>
        this.lb.deleteBackend({ loadBalancerId: id, backendSetName: backendSet, backendName: name }),
      );
    } catch (err) {
      if (ociStatus((err as Error).cause) !== 404) throw err;
    }
  }

  /** OCI's verdict on one backend; `undefined` while it does not exist yet (404: being created). */
  async health(id: string, backendSet: string, name: string): Promise<string | undefined> {
    const res = await ociFind(D, `read health of ${name} in ${backendSet}`, () =>
      this.lb.getBackendHealth({ loadBalancerId: id, backendSetName: backendSet, backendName: name }),
    );
    return res?.backendHealth.status;
  }

  /** Sends one change and waits for its work request. */
  private async change(doing: string, send: () => Promise<{ opcWorkRequestId: string }>): Promise<void> {
    const { opcWorkRequestId } = await ociCall(D, doing, send);
    const wr = await pollUntil(
      async () =>
        (
          await ociCall(D, `read work request of ${doing}`, () =>
            this.lb.getWorkRequest({ workRequestId: opcWorkRequestId }),
          )
        ).workRequest,
      (w) => w.lifecycleState === 'SUCCEEDED' || w.lifecycleState === 'FAILED',
      {
        clock: this.clock,
        intervalMs: this.pollMs,
        timeoutMs: 600_000,
        onTimeout: (w) => new DriverError(D, `${doing}: work request ${w.id} still ${w.lifecycleState}`),
      },
    );
    if (wr.lifecycleState === 'FAILED') {
      const why = wr.errorDetails.map((e) => e.message).join('; ') || wr.message;
      throw new DriverError(D, `${doing}: work request ${wr.id} FAILED: ${why}`);
    }
  }
}

function fields(d: DesiredBackend, create: true): models.CreateBackendDetails;
function fields(d: DesiredBackend, create: false): models.UpdateBackendDetails;
function fields(
  d: DesiredBackend,
  create: boolean,
): models.CreateBackendDetails | models.UpdateBackendDetails {
  const base = { weight: d.weight, backup: d.backup, drain: d.drain, offline: d.offline };
  return create ? { ipAddress: d.ipAddress, port: d.port, ...base } : base;
}
