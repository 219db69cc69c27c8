import type { models } from 'oci-containerinstances';
import type { Logger } from 'pino';
import type { OciClients } from '../../cloud/oci/clients.js';
import { ociCall, ociFind, ociStatus, translateOci } from '../../cloud/oci/errors.js';
import { pollUntil } from '../../cloud/poll.js';
import { DriverError, NotFoundError } from '../../core/errors.js';
import { KeyedQueue } from '../../core/keyed-queue.js';
import type { Instance } from '../../core/types.js';
import type { LogOptions, Runtime, StartRequest } from '../runtime.js';
import { createDetails } from './create-details.js';
import { lines, streamText } from './logs.js';
import { parseOciSpec } from './spec.js';
import { isOurs, retryTokenFor, TAG } from './tags.js';
import { type Described, instanceOf } from './view.js';

export interface OciRuntimeOptions {
  clients: OciClients;
  /** Compartments `list` searches (those of the services' specs; `start` adds its own). */
  compartmentIds?: string[] | undefined;
  /** Tag value scoping every instance to one control plane; also filters `list`. */
  owner?: string | undefined;
  /** Between two reads while waiting for a state (default 5 s, as deploy-inst). */
  pollIntervalMs?: number | undefined;
  /** Longest wait for CREATING → ACTIVE (default 10 min: image pulls can be slow). */
  startTimeoutMs?: number | undefined;
  /** Longest wait for INACTIVE or DELETED (default 10 min). */
  settleTimeoutMs?: number | undefined;
  logger?: Logger | undefined;
}

const D = 'oci';
type Full = models.ContainerInstance;

/**
 * Runs instances as OCI Container Instances. Each carries Baton's freeform tags, so `list`/`get` find
 * them again after a restart of the control plane (adoption); a create carries an `opc-retry-token`
 * derived from the instance id, so neither a retried request nor a repeated step makes a second one.
 * stop = OCI's stop action (SIGTERM, then kill after gracefulShutdownTimeoutInSeconds), remove = delete.
 */
export class OciRuntime implements Runtime {
  readonly kind = 'oci';
  private readonly ci;
  private readonly clock;
  private readonly compartments: Set<string>;
  private readonly owner: string | undefined;
  private readonly pollMs: number;
  private readonly startTimeoutMs: number;
  private readonly settleTimeoutMs: number;
  /** Instance id → OCID, learned on create and list: `get` then reads the instance itself (consistent). */
  private readonly ocids = new Map<string, string>();
  /** OCID → private IP (fixed for an instance's life). */
  private readonly ips = new Map<string, string>();
  private readonly queue = new KeyedQueue();

  constructor(private readonly opts: OciRuntimeOptions) {
    this.ci = opts.clients.containerInstances;
    this.clock = opts.clients.clock;
    this.compartments = new Set(opts.compartmentIds ?? []);
    this.owner = opts.owner;
    this.pollMs = opts.pollIntervalMs ?? 5000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 600_000;
    this.settleTimeoutMs = opts.settleTimeoutMs ?? 600_000;
  }

  async start(req: StartRequest): Promise<Instance> {
    const spec = parseOciSpec(req.spec);
    return this.queue.run(req.id, async () => {
      this.compartments.add(spec.containerInstance.compartmentId);
      let ci = await this.find(req.id);
      if (ci?.lifecycleState === 'FAILED') throw this.failed(req.id, ci);
      if (!ci || ci.lifecycleState === 'DELETED' || ci.lifecycleState === 'DELETING') {
        const body = createDetails(req, spec, this.owner);
        const res = await ociCall(D, `create container instance ${req.id}`, () =>
          this.ci.createContainerInstance({
            createContainerInstanceDetails: body as unknown as models.CreateContainerInstanceDetails,
            opcRetryToken: retryTokenFor(this.owner, req.id),
          }),
        );
        ci = res.containerInstance;
        this.ocids.set(req.id, ci.id);
        this.opts.logger?.info(
          { id: req.id, ocid: ci.id, service: req.service },
          'container instance created',
        );
      } else if (ci.lifecycleState === 'INACTIVE') {
        await this.act(req.id, ci.id, 'start');
      }
      const active = await this.waitActive(req.id, ci.id);
      return instanceOf(active, await this.ipOf(active));
    });
  }

  async list(service?: string): Promise<Instance[]> {
    const found = new Map<string, Described>();
    for (const compartmentId of this.compartments)
      for (const s of await this.listCompartment(compartmentId))
        if (s.lifecycleState !== 'DELETED' && isOurs(s.freeformTags, this.owner, service)) found.set(s.id, s);
    // Lists are eventually consistent: instances this runtime created and does not see yet are read directly.
    for (const [id, ocid] of this.ocids) {
      if (found.has(ocid)) continue;
      const ci = await this.read(id, ocid);
      if (ci && ci.lifecycleState !== 'DELETED' && isOurs(ci.freeformTags, this.owner, service))
        found.set(ocid, ci);
    }
    const all = await Promise.all([...found.values()].map(async (s) => instanceOf(s, await this.ipOf(s))));
    return all.sort((a, b) => a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<Instance | undefined> {
    const ci = await this.find(id);
    return ci && ci.lifecycleState !== 'DELETED' ? instanceOf(ci, await this.ipOf(ci)) : undefined;
  }

  /** Restart action on a running instance, start action on an INACTIVE one; the VNIC (address) stays. */
  restart(id: string): Promise<Instance> {
    return this.queue.run(id, async () => {
      const ci = await this.find(id);
      if (!ci || ci.lifecycleState === 'DELETED' || ci.lifecycleState === 'DELETING')
        throw new NotFoundError(`instance ${id}`);
      const tags = { ...ci.freeformTags };
      delete tags[TAG.stopped];
      tags[TAG.restarts] = String(Number(tags[TAG.restarts] ?? 0) + 1);
      await this.retag(id, ci.id, tags);
      await this.act(id, ci.id, ci.lifecycleState === 'ACTIVE' ? 'restart' : 'start');
      const active = await this.waitActive(id, ci.id);
      return instanceOf(active, await this.ipOf(active));
    });
  }

  /**
   * Marks the instance stopped (tag), then OCI's stop action, and waits for INACTIVE. OCI gives the
   * containers gracefulShutdownTimeoutInSeconds (set from stopTimeout at create) after SIGTERM.
   */
  stop(id: string, _timeoutMs: number): Promise<void> {
    return this.queue.run(id, async () => {
      const ci = await this.find(id);
      if (!ci || ['DELETED', 'DELETING', 'FAILED'].includes(ci.lifecycleState)) return;
      if (ci.freeformTags?.[TAG.stopped] !== 'true')
        await this.retag(id, ci.id, { ...ci.freeformTags, [TAG.stopped]: 'true' });
      if (ci.lifecycleState === 'INACTIVE') return;
      if (ci.lifecycleState === 'CREATING') await this.waitActive(id, ci.id).catch(() => undefined);
      await this.act(id, ci.id, 'stop');
      await this.settle(id, ci.id, ['INACTIVE', 'FAILED', 'DELETED']);
    });
  }

  /** Deletes the instance and waits until OCI says DELETED (or forgets it). */
  remove(id: string): Promise<void> {
    return this.queue.run(id, async () => {
      const ci = await this.find(id);
      if (ci && ci.lifecycleState !== 'DELETED') {
        if (ci.lifecycleState === 'ACTIVE' && ci.freeformTags?.[TAG.stopped] !== 'true')
          throw new DriverError(D, `instance ${id} is running; stop it before removing it`);
        if (ci.lifecycleState !== 'DELETING')
          await ociFind(D, `delete container instance ${id}`, () =>
            this.ci.deleteContainerInstance({ containerInstanceId: ci.id }),
          );
        await this.settle(id, ci.id, ['DELETED']);
      }
      this.ocids.delete(id);
    });
  }

  /** RetrieveLogs of the instance's first container; `follow` reads again every poll interval. */
  async *logs(id: string, opts: LogOptions = {}): AsyncIterable<string> {
    const ci = await this.find(id);
    if (!ci || ci.lifecycleState === 'DELETED') throw new NotFoundError(`instance ${id}`);
    const full = await this.read(id, ci.id);
    const containerId = full?.containers[0]?.containerId;
    if (!containerId) return;
    const fetch = async () =>
      lines(
        await streamText(
          (await ociCall(D, `logs of ${id}`, () => this.ci.retrieveLogs({ containerId }))).value,
        ),
      );
    const first = await fetch();
    const start = opts.tail === undefined ? 0 : Math.max(0, first.length - opts.tail);
    yield* first.slice(start);
    if (!opts.follow) return;
    let seen = first.length;
    while (!opts.signal?.aborted) {
      await this.clock.sleep(this.pollMs);
      if (opts.signal?.aborted) return;
      const now = await fetch().catch(() => undefined);
      if (!now) return;
      // RetrieveLogs returns the most recent output only: when it shrank, the window moved.
      if (now.length < seen) seen = 0;
      yield* now.slice(seen);
      seen = now.length;
    }
  }

  async close(): Promise<void> {
    await this.queue.idle();
  }

  /** The instance of this Baton id: by its known OCID, else by tag in every known compartment. */
  private async find(id: string): Promise<Described | undefined> {
    const known = this.ocids.get(id);
    if (known) {
      const ci = await this.read(id, known);
      if (ci) return ci;
    }
    for (const compartmentId of this.compartments)
      for (const s of await this.listCompartment(compartmentId))
        if (
          isOurs(s.freeformTags, this.owner) &&
          s.freeformTags?.[TAG.instance] === id &&
          s.lifecycleState !== 'DELETED'
        ) {
          this.ocids.set(id, s.id);
          return s;
        }
    return undefined;
  }

  private async listCompartment(compartmentId: string): Promise<models.ContainerInstanceSummary[]> {
    const out: models.ContainerInstanceSummary[] = [];
    let page: string | undefined;
    do {
      const res = await ociCall(D, `list container instances in ${compartmentId}`, () =>
        this.ci.listContainerInstances({ compartmentId, page, limit: 100 }),
      );
      out.push(...res.containerInstanceCollection.items);
      page = res.opcNextPage;
    } while (page);
    for (const s of out) {
      const id = s.freeformTags?.[TAG.instance];
      if (id && isOurs(s.freeformTags, this.owner) && s.lifecycleState !== 'DELETED')
        this.ocids.set(id, s.id);
    }
    return out;
  }

  private async read(id: string, ocid: string): Promise<Full | undefined> {
    const res = await ociFind(D, `read container instance ${id}`, () =>
      this.ci.getContainerInstance({ containerInstanceId: ocid }),
    );
    return res?.containerInstance;
  }

  private async waitActive(id: string, ocid: string): Promise<Full> {
    return pollUntil(
      async () => {
        const ci = await this.read(id, ocid);
        if (!ci) throw new DriverError(D, `container instance ${id} (${ocid}) disappeared while starting`);
        if (ci.lifecycleState === 'FAILED') throw this.failed(id, ci);
        return ci;
      },
      (ci) => ci.lifecycleState === 'ACTIVE',
      {
        clock: this.clock,
        intervalMs: this.pollMs,
        timeoutMs: this.startTimeoutMs,
        onTimeout: (ci) =>
          new DriverError(
            D,
            `container instance ${id} (${ocid}) still ${ci.lifecycleState} after ${this.startTimeoutMs} ms`,
          ),
      },
    );
  }

  private async settle(id: string, ocid: string, states: string[]): Promise<void> {
    await pollUntil(
      async () => (await this.read(id, ocid))?.lifecycleState ?? 'DELETED',
      (s) => states.includes(s),
      {
        clock: this.clock,
        intervalMs: this.pollMs,
        timeoutMs: this.settleTimeoutMs,
        onTimeout: (s) =>
          new DriverError(
            D,
            `container instance ${id} (${ocid}) still ${s} after ${this.settleTimeoutMs} ms`,
          ),
      },
    );
  }

  private failed(id: string, ci: Described & { lifecycleDetails?: string }): DriverError {
    const why = ci.lifecycleDetails ? `: ${ci.lifecycleDetails}` : '';
    return new DriverError(D, `container instance ${id} (${ci.id}) FAILED${why}`);
  }

  private async act(id: string, ocid: string, action: 'start' | 'stop' | 'restart'): Promise<void> {
    try {
      const req = { containerInstanceId: ocid };
      if (action === 'start') await this.ci.startContainerInstance(req);
      else if (action === 'stop') await this.ci.stopContainerInstance(req);
      else await this.ci.restartContainerInstance(req);
    } catch (err) {
      // 409 IncorrectState: a repeat of the same action already under way (e.g. after a lost answer).
      if (ociStatus(err) !== 409) throw translateOci(D, `${action} container instance ${id}`, err);
    }
  }

  /** UpdateContainerInstance replaces the freeform tags whole. */
  private async retag(id: string, ocid: string, freeformTags: Record<string, string>): Promise<void> {
    await ociCall(D, `tag container instance ${id}`, () =>
      this.ci.updateContainerInstance({
        containerInstanceId: ocid,
        updateContainerInstanceDetails: { freeformTags },
      }),
    );
  }

  /** The private IP of the instance's VNIC (GetContainerInstance → vnicId → Core GetVnic), cached. */
  private async ipOf(ci: Described & { vnics?: models.ContainerVnic[] }): Promise<string> {
    const hit = this.ips.get(ci.id);
    if (hit) return hit;
    const vnics = ci.vnics ?? (await this.read(ci.freeformTags?.[TAG.instance] ?? ci.id, ci.id))?.vnics;
    const vnicId = vnics?.[0]?.vnicId;
    if (!vnicId) return '';
    const vnic = await ociFind(D, `read VNIC of ${ci.id}`, () =>
      this.opts.clients.network.getVnic({ vnicId }),
    );
    const ip = vnic?.vnic.privateIp;
    if (!ip) return '';
    this.ips.set(ci.id, ip);
    return ip;
  }
}
