import type { models } from 'oci-containerinstances';
import type { Logger } from 'pino';
import type { OciClients } from '../../cloud/oci/clients.js';
import { ociCall, ociFind, ociStatus, translateOci } from '../../cloud/oci/errors.js';
import type { CallLog } from '../../cloud/planned.js';
import { pollUntil } from '../../cloud/poll.js';
import { DriverError, NotFoundError } from '../../core/errors.js';
import { KeyedQueue } from '../../core/keyed-queue.js';
import type { Instance } from '../../core/types.js';
import type { LogOptions, PurgeTarget, Runtime, StartRequest } from '../runtime.js';
import { createDetails } from './create-details.js';
import { lines, streamText } from './logs.js';
import { InstanceLookup } from './lookup.js';
import { plannedAction, plannedCreate, plannedDelete, plannedInstance, plannedTag } from './planned.js';
import { parseOciSpec } from './spec.js';
import { retryTokenFor, TAG } from './tags.js';
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
  /**
   * Dry run (`baton plan`): instances are looked up for real, changes are recorded here instead of sent
   * and nothing is waited for; `start` of a new instance returns a placeholder address.
   */
  dryRun?: CallLog | undefined;
  /**
   * Where the OCIDs of the instances it created are kept (a restarted control plane reads them back:
   * lists lag behind creates, a read by OCID does not). Memory only without.
   */
  stateFile?: string | undefined;
  /** Instances younger than this are never purged (default 30 s). */
  purgeMinAgeMs?: number | undefined;
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
  private readonly found: InstanceLookup;
  private readonly pollMs: number;
  private readonly queue = new KeyedQueue();

  constructor(private readonly opts: OciRuntimeOptions) {
    this.ci = opts.clients.containerInstances;
    this.clock = opts.clients.clock;
    this.found = new InstanceLookup(this.ci, opts.clients.network, opts.owner, opts.compartmentIds ?? [], {
      clock: opts.clients.clock,
      pollMs: opts.pollIntervalMs ?? 5000,
      stateFile: opts.stateFile ? { file: opts.stateFile, readOnly: opts.dryRun !== undefined } : undefined,
    });
    this.pollMs = opts.pollIntervalMs ?? 5000;
  }

  async start(req: StartRequest): Promise<Instance> {
    const spec = parseOciSpec(req.spec);
    return this.queue.run(req.id, async () => {
      this.found.compartments.add(spec.containerInstance.compartmentId);
      let ci = await this.found.find(req.id);
      if (ci?.lifecycleState === 'FAILED') throw failed(req.id, ci);
      const plan = this.opts.dryRun;
      if (!ci || ci.lifecycleState === 'DELETED' || ci.lifecycleState === 'DELETING') {
        const body = createDetails(req, spec, this.opts.owner);
        if (plan) {
          for (const c of plannedCreate(body, this.opts.startTimeoutMs ?? 600_000)) plan.add(c);
          return plannedInstance(req, spec.port);
        }
        // Noted first: if this process dies before the answer, the next one looks for the instance.
        this.found.ocids.willCreate(req.id);
        const res = await ociCall(D, `create container instance ${req.id}`, () =>
          this.ci.createContainerInstance({
            createContainerInstanceDetails: body as unknown as models.CreateContainerInstanceDetails,
            opcRetryToken: retryTokenFor(this.opts.owner, req.id),
          }),
        );
        ci = res.containerInstance;
        this.found.ocids.set(req.id, ci.id);
        this.opts.logger?.info(
          { id: req.id, ocid: ci.id, service: req.service },
          'container instance created',
        );
      } else if (plan) {
        if (ci.lifecycleState === 'INACTIVE') plan.add(plannedAction(ci.id, 'start', 'ACTIVE'));
        return this.view(ci);
      } else if (ci.lifecycleState === 'INACTIVE') {
        await this.act(req.id, ci.id, 'start');
      }
      return this.view(await this.waitActive(req.id, ci.id));
    });
  }

  async list(service?: string): Promise<Instance[]> {
    const all = await Promise.all((await this.found.all(service)).map((ci) => this.view(ci)));
    return all.sort((a, b) => a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<Instance | undefined> {
    const ci = await this.found.find(id);
    return ci && ci.lifecycleState !== 'DELETED' ? this.view(ci) : undefined;
  }

  /** Restart action on a running instance, start action on an INACTIVE one; the VNIC (address) stays. */
  restart(id: string): Promise<Instance> {
    return this.queue.run(id, async () => {
      const ci = await this.found.find(id);
      if (!ci || ci.lifecycleState === 'DELETED' || ci.lifecycleState === 'DELETING')
        throw new NotFoundError(`instance ${id}`);
      const tags = { ...ci.freeformTags };
      delete tags[TAG.stopped];
      tags[TAG.restarts] = String(Number(tags[TAG.restarts] ?? 0) + 1);
      const action = ci.lifecycleState === 'ACTIVE' ? 'restart' : 'start';
      if (this.opts.dryRun) {
        this.opts.dryRun.add(plannedTag(ci.id, tags));
        this.opts.dryRun.add(plannedAction(ci.id, action, 'ACTIVE'));
        return this.view(ci);
      }
      await this.retag(id, ci.id, tags);
      await this.act(id, ci.id, action);
      return this.view(await this.waitActive(id, ci.id));
    });
  }

  /**
   * Marks the instance stopped (tag), then OCI's stop action, and waits for INACTIVE. OCI gives the
   * containers gracefulShutdownTimeoutInSeconds (set from stopTimeout at create) after SIGTERM.
   */
  stop(id: string, _timeoutMs: number): Promise<void> {
    return this.queue.run(id, async () => {
      const ci = await this.found.find(id);
      if (!ci || ['DELETED', 'DELETING', 'FAILED'].includes(ci.lifecycleState)) return;
      if (this.opts.dryRun) {
        if (ci.freeformTags?.[TAG.stopped] !== 'true')
          this.opts.dryRun.add(plannedTag(ci.id, { ...ci.freeformTags, [TAG.stopped]: 'true' }));
        if (ci.lifecycleState !== 'INACTIVE') this.opts.dryRun.add(plannedAction(ci.id, 'stop', 'INACTIVE'));
        return;
      }
      if (ci.freeformTags?.[TAG.stopped] !== 'true')
        await this.retag(id, ci.id, { ...ci.freeformTags, [TAG.stopped]: 'true' });
      if (ci.lifecycleState === 'INACTIVE') return;
      if (ci.lifecycleState === 'CREATING') await this.waitActive(id, ci.id).catch(() => undefined);
      await this.act(id, ci.id, 'stop');
      await this.settle(id, ci.id, ['INACTIVE', 'FAILED', 'DELETED']);
    });
  }

  /** Deletes the instance and waits until OCI says DELETED. A running one must be stopped first. */
  remove(id: string): Promise<void> {
    return this.queue.run(id, async () => {
      const ci = await this.found.find(id);
      if (ci && ci.lifecycleState !== 'DELETED') {
        if (ci.lifecycleState === 'ACTIVE' && ci.freeformTags?.[TAG.stopped] !== 'true' && !this.opts.dryRun)
          throw new DriverError(D, `instance ${id} is running; stop it before removing it`);
        await this.delete(id, ci);
      }
      if (!this.opts.dryRun) this.found.ocids.delete(id);
    });
  }

  /**
   * Deletes this owner's instances that `keep` rejects (Hoist's purge), whatever their state, except
   * those younger than `purgeMinAgeMs` (a deploy may have just created them). Never an untagged one.
   */
  async purge(keep: (target: PurgeTarget) => boolean): Promise<string[]> {
    const minAge = this.opts.purgeMinAgeMs ?? 30_000;
    const gone: string[] = [];
    for (const ci of await this.found.all()) {
      const tags = ci.freeformTags ?? {};
      const id = tags[TAG.instance] ?? ci.id;
      if (keep({ service: tags[TAG.service] ?? '', revision: Number(tags[TAG.revision] ?? 0) })) continue;
      if (Date.now() - new Date(ci.timeCreated).getTime() < minAge) continue;
      await this.queue.run(id, () => this.delete(id, ci));
      gone.push(id);
    }
    return gone.sort();
  }

  /** RetrieveLogs of the instance's first container; `follow` reads again every poll interval. */
  async *logs(id: string, opts: LogOptions = {}): AsyncIterable<string> {
    const ci = await this.found.find(id);
    if (!ci || ci.lifecycleState === 'DELETED') throw new NotFoundError(`instance ${id}`);
    const containerId = (await this.found.read(id, ci.id))?.containers[0]?.containerId;
    if (!containerId) return;
    const fetch = async () =>
      lines(
        await streamText(
          (await ociCall(D, `logs of ${id}`, () => this.ci.retrieveLogs({ containerId }))).value,
        ),
      );
    const first = await fetch();
    yield* first.slice(opts.tail === undefined ? 0 : Math.max(0, first.length - opts.tail));
    let seen = first.length;
    while (opts.follow && !opts.signal?.aborted) {
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

  private async view(ci: Described): Promise<Instance> {
    return instanceOf(ci, await this.found.ipOf(ci));
  }

  private async delete(id: string, ci: Described): Promise<void> {
    if (this.opts.dryRun)
      return void (ci.lifecycleState !== 'DELETING' && this.opts.dryRun.add(plannedDelete(ci.id)));
    if (ci.lifecycleState !== 'DELETING')
      await ociFind(D, `delete container instance ${id}`, () =>
        this.ci.deleteContainerInstance({ containerInstanceId: ci.id }),
      );
    await this.settle(id, ci.id, ['DELETED']);
    this.found.ocids.delete(id);
  }

  private waitActive(id: string, ocid: string): Promise<Full> {
    const timeoutMs = this.opts.startTimeoutMs ?? 600_000;
    return pollUntil(
      async () => {
        const ci = await this.found.read(id, ocid);
        if (!ci) throw new DriverError(D, `container instance ${id} (${ocid}) disappeared while starting`);
        if (ci.lifecycleState === 'FAILED') throw failed(id, ci);
        // A create answered with an instance deleted since (its retry token is reused within 24 h).
        if (ci.lifecycleState === 'DELETING' || ci.lifecycleState === 'DELETED')
          throw new DriverError(
            D,
            `container instance ${id} (${ocid}) is ${ci.lifecycleState} while starting`,
          );
        return ci;
      },
      (ci) => ci.lifecycleState === 'ACTIVE',
      {
        clock: this.clock,
        intervalMs: this.pollMs,
        timeoutMs,
        onTimeout: (ci) =>
          new DriverError(
            D,
            `container instance ${id} (${ocid}) still ${ci.lifecycleState} after ${timeoutMs} ms`,
          ),
      },
    );
  }

  /** Waits until the instance is in one of `states` (a 404 counts as DELETED). */
  private async settle(id: string, ocid: string, states: string[]): Promise<void> {
    const timeoutMs = this.opts.settleTimeoutMs ?? 600_000;
    await pollUntil(
      async () => (await this.found.read(id, ocid))?.lifecycleState ?? 'DELETED',
      (s) => states.includes(s),
      {
        clock: this.clock,
        intervalMs: this.pollMs,
        timeoutMs,
        onTimeout: (s) =>
          new DriverError(D, `container instance ${id} (${ocid}) still ${s} after ${timeoutMs} ms`),
      },
    );
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
}

function failed(id: string, ci: Described & { lifecycleDetails?: string }): DriverError {
  const why = ci.lifecycleDetails ? `: ${ci.lifecycleDetails}` : '';
  return new DriverError(D, `container instance ${id} (${ci.id}) FAILED${why}`);
}
