import type { GovernorLease } from '../cluster/governor.js';
import type { Registration } from '../cluster/registry.js';
import { DeployFailedError } from '../core/errors.js';
import { type Instance, InstanceState, type Revision } from '../core/types.js';
import { awaitHealthy } from '../engine/await-healthy.js';
import { clusterOf, type GovernorSpec } from '../spec/cluster.js';
import { recordFailure } from './desired.js';
import { watchLeaseExpiry } from './governors.js';
import { transition } from './machine.js';
import { type AgentDeps, instanceIdOf, registrationOf, type Slot } from './slot.js';

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** Waiting for a governor slot: long (a rollout of many nodes), and aborted when the desired state moves. */
const ACQUIRE_TIMEOUT_MS = 3_600_000;

/** What an operation needs from the service runner it runs for. */
export interface OpContext {
  deps: AgentDeps;
  service: string;
  /** The desired revision now (it may move while an operation waits). */
  revision(): Revision;
  /** Aborted when the desired revision changes: a wait for a governor slot ends. */
  signal(): AbortSignal;
  /** Instance ids an operation is creating (not yet a slot's): the runner must not retire them. */
  creating: Set<string>;
}

export function backoff(slot: Slot): void {
  slot.nextRestartAt = Date.now() + Math.min(BACKOFF_BASE_MS * 2 ** slot.restarts, BACKOFF_MAX_MS);
  slot.restarts++;
}

async function withLease<T>(
  ctx: OpContext,
  spec: GovernorSpec | undefined,
  holder: string,
  fn: (lease: GovernorLease | undefined, held: () => Promise<boolean>) => Promise<T>,
): Promise<T> {
  if (!spec) return fn(undefined, async () => true);
  const g = await ctx.deps.governors.get(spec);
  const waitFrom = Date.now();
  // Polls a full governor every 50–250 ms: a freed slot is taken within a quarter second.
  const lease = await g.acquire(holder, {
    timeoutMs: ACQUIRE_TIMEOUT_MS,
    waitMs: 50,
    maxWaitMs: 250,
    signal: ctx.signal(),
  });
  ctx.deps.leases?.leaseTaken(spec.name, Date.now() - waitFrom);
  const unwatch = await watchLeaseExpiry(g, lease, (expiryMs) => {
    ctx.deps.logger.warn(
      { service: ctx.service, holder, governor: spec.name, expiryMs },
      'operation ran past its governor lease expiry: another agent may have taken the slot (make the expiry exceed the slowest update: baton governor set NAME --expiry D)',
    );
    ctx.deps.emit({
      type: 'lease.overrun',
      service: ctx.service,
      holder,
      governor: spec.name,
      lease: lease.seq,
      expiryMs,
    });
  });
  try {
    // A lease can end under its holder (expired, reset, dropped by a lower capacity): checked before
    // each step that would add to the number of instances changing at once.
    return await fn(lease, () => g.holds(lease).catch(() => true));
  } finally {
    unwatch();
    ctx.deps.leases?.leaseReleased(spec.name);
    await g.release(lease).catch((err: unknown) => ctx.deps.logger.warn({ err }, 'governor release failed'));
  }
}

function done(ctx: OpContext, slot: Slot, why: string): void {
  const from = slot.state;
  const d = transition(from, 'done');
  if (d.ok && d.to !== from) {
    slot.state = d.to;
    ctx.deps.emit({ type: 'state', service: ctx.service, slot: slot.index, from, to: d.to, why });
  }
  ctx.deps.changed();
}

async function register(ctx: OpContext, slot: Slot, rev: Revision, inst: Instance): Promise<void> {
  await slot.reg?.stop();
  slot.reg = await ctx.deps.registry.keepAlive(registrationOf(ctx.deps.node, rev, inst));
}

/** How long one round of asking the routers to drain waits for their answers, beyond the drain itself. */
const DRAIN_ROUND_EXTRA_MS = 8000;

const drainRoundMs = (rev: Revision) => rev.spec.traffic.drainTimeout + DRAIN_ROUND_EXTRA_MS;

/**
 * Deletes a registration, retrying through a registry that is unreachable for longer than one write's
 * retries (a NATS failover): the routers only let go of an instance once its entry is gone.
 */
async function deregister(ctx: OpContext, reg: Registration): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await ctx.deps.registry.deregister(reg);
      return;
    } catch (err) {
      if (i >= 5) throw err;
      ctx.deps.logger.warn({ err, instance: reg.instance }, 'deregistration failed; retrying');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * Takes `inst` out of every router: deregistered, then drained on every live node (each node first makes
 * `replacements` active). False when the agent stopped before every node confirmed: `inst` must keep
 * running (the next run of the agent retires it).
 */
async function leaveRouters(
  ctx: OpContext,
  rev: Revision,
  reg: Registration,
  replacements: Registration[] = [],
): Promise<boolean> {
  await deregister(ctx, reg);
  return ctx.deps.drainEverywhere(
    { service: ctx.service, instances: [reg.instance], replacements },
    drainRoundMs(rev),
  );
}

/** Deregisters the slot's instance and waits until no router sends it new requests. */
export async function unroute(ctx: OpContext, slot: Slot, rev: Revision): Promise<void> {
  if (!slot.reg) return;
  const reg = slot.reg;
  slot.reg = undefined;
  await reg.stop();
  if (!(await leaveRouters(ctx, rev, reg.registration)))
    throw new Error(`agent stopping before every router let go of ${reg.registration.instance}`);
}

/** A failure of an instance of `rev`: counted, and the desired revision reverted at the threshold. */
async function failed(ctx: OpContext, rev: Revision, reason: string): Promise<void> {
  const { deps } = ctx;
  const d = await recordFailure(
    deps.store,
    ctx.service,
    rev.number,
    clusterOf(rev.spec).maxFailures,
    `agent:${deps.node}`,
    reason,
  );
  if (d.action !== 'revert') return;
  deps.emit({ type: 'revert', service: ctx.service, from: d.failed, to: d.next.revision, reason });
  await deps.repo.setRevisionStatus(ctx.service, d.failed, 'failed', reason).catch(() => undefined);
  await deps.repo.audit({
    actor: `agent:${deps.node}`,
    action: 'cluster.revert',
    service: ctx.service,
    revision: d.next.revision,
    result: 'failed',
    message: `revision ${d.failed} failed health on ${deps.node}; reverted to ${d.next.revision}: ${reason}`,
  });
}

/** Starts a new instance of the desired revision in an empty slot. */
export async function startFresh(ctx: OpContext, slot: Slot): Promise<void> {
  const rev = ctx.revision();
  const { runtime, node, emit } = ctx.deps;
  const id = instanceIdOf(ctx.service, node, slot.index, rev.number);
  ctx.creating.add(id);
  try {
    const inst = await runtime.start({
      id,
      service: ctx.service,
      revision: rev.number,
      deployment: `agent-${node}`,
      spec: rev.spec,
    });
    slot.inst = inst;
    try {
      await awaitHealthy(runtime, id, rev.spec.probe, () => undefined);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      emit({
        type: 'started',
        service: ctx.service,
        slot: slot.index,
        instance: id,
        revision: rev.number,
        healthy: false,
      });
      await runtime.stop(id, rev.spec.stopTimeout).catch(() => undefined);
      await runtime.remove(id).catch(() => undefined);
      slot.inst = undefined;
      backoff(slot);
      if (e instanceof DeployFailedError) await failed(ctx, rev, reason);
      return;
    }
    await register(ctx, slot, rev, inst);
    slot.healthy = true;
    slot.passes = rev.spec.probe.healthyThreshold;
    slot.fails = 0;
    emit({
      type: 'started',
      service: ctx.service,
      slot: slot.index,
      instance: id,
      revision: rev.number,
      healthy: true,
    });
  } finally {
    ctx.creating.delete(id);
    ctx.deps.changed();
  }
}

/**
 * Replaces the slot's instance with one of the desired revision, under the update governor: acquire →
 * start the new instance → wait healthy → register it → deregister the old one → wait until every
 * router stopped sending to it → stop it → release. A new instance that fails health is removed (the
 * old one never stopped serving) and counted; at `maxFailures` the desired revision reverts everywhere.
 */
export async function update(ctx: OpContext, slot: Slot): Promise<void> {
  const rev = ctx.revision();
  const { runtime, node, emit } = ctx.deps;
  const old = slot.inst!;
  const holder = `${node}.${old.id}`;
  const gov = clusterOf(rev.spec).updateGovernor;
  try {
    await withLease(ctx, gov, holder, async (lease, held) => {
      // The desired revision moved while waiting (a revert, a newer deploy): the next tick decides again.
      if (ctx.revision().number !== rev.number) return;
      emit({
        type: 'update.start',
        service: ctx.service,
        slot: slot.index,
        from: old.id,
        revision: rev.number,
        lease: lease?.seq ?? 0,
      });
      const id = instanceIdOf(ctx.service, node, slot.index, rev.number);
      ctx.creating.add(id);
      try {
        const inst = await runtime.start({
          id,
          service: ctx.service,
          revision: rev.number,
          deployment: `agent-${node}`,
          spec: rev.spec,
        });
        try {
          await awaitHealthy(runtime, id, rev.spec.probe, () => undefined);
        } catch (e) {
          const reason = e instanceof Error ? e.message : String(e);
          await runtime.stop(id, rev.spec.stopTimeout).catch(() => undefined);
          await runtime.remove(id).catch(() => undefined);
          emit({
            type: 'update.failed',
            service: ctx.service,
            slot: slot.index,
            revision: rev.number,
            reason,
          });
          backoff(slot);
          await failed(ctx, rev, reason);
          return;
        }
        if (!(await held())) {
          // Lost the lease while starting: give the new instance up (it never took traffic), try again.
          ctx.deps.logger.warn({ service: ctx.service, instance: id }, 'update lease lost; retrying later');
          await runtime.stop(id, rev.spec.stopTimeout).catch(() => undefined);
          await runtime.remove(id).catch(() => undefined);
          emit({
            type: 'update.failed',
            service: ctx.service,
            slot: slot.index,
            revision: rev.number,
            reason: 'lease lost',
          });
          backoff(slot);
          return;
        }
        const newReg = registrationOf(node, rev, inst);
        let refresher: Awaited<ReturnType<AgentDeps['registry']['keepAlive']>>;
        try {
          refresher = await ctx.deps.registry.keepAlive(newReg);
        } catch (e) {
          // The registry cannot be written now: give the new instance up (it never took traffic).
          await runtime.stop(id, rev.spec.stopTimeout).catch(() => undefined);
          await runtime.remove(id).catch(() => undefined);
          emit({
            type: 'update.failed',
            service: ctx.service,
            slot: slot.index,
            revision: rev.number,
            reason: `registration failed: ${e instanceof Error ? e.message : String(e)}`,
          });
          backoff(slot);
          return;
        }
        const oldReg = slot.reg;
        slot.reg = refresher;
        await oldReg?.stop();
        // Even when this run of the agent never registered it (adopted after a restart), an earlier run
        // may have: its entry lives until it ages out, and routers send it requests until then.
        let confirmed = false;
        try {
          confirmed = await leaveRouters(ctx, rev, oldReg?.registration ?? registrationOf(node, rev, old), [
            newReg,
          ]);
        } catch (err) {
          // Not deregistered (the registry unreachable for a long while): the new instance serves anyway;
          // the old one, wanted by no slot, is retired (asking again) by a later tick.
          ctx.deps.logger.warn(
            { err, service: ctx.service, instance: old.id },
            'old instance not deregistered',
          );
        }
        slot.inst = inst;
        slot.healthy = true;
        slot.passes = rev.spec.probe.healthyThreshold;
        slot.fails = 0;
        slot.restarts = 0;
        if (confirmed) {
          await runtime.stop(old.id, rev.spec.stopTimeout);
          await runtime.remove(old.id).catch(() => undefined);
        } else {
          // A router may still send it requests, so it keeps running; no slot wants it any more, so a
          // later tick (or the agent's next run, when it is stopping) retires it, asking the routers again.
          ctx.deps.logger.warn({ service: ctx.service, instance: old.id }, 'old instance left running');
        }
        emit({
          type: 'update.end',
          service: ctx.service,
          slot: slot.index,
          instance: id,
          revision: rev.number,
          lease: lease?.seq ?? 0,
        });
      } finally {
        ctx.creating.delete(id);
      }
    });
  } finally {
    done(ctx, slot, 'update finished');
  }
}

/**
 * Restarts the slot's instance under the restart governor: deregister and drain it (when it served),
 * restart it, wait healthy, register it again. Used for remediation, touched files and `transition restart`.
 */
export async function restart(ctx: OpContext, slot: Slot, why: string): Promise<void> {
  const rev = ctx.revision();
  const { runtime, node, emit } = ctx.deps;
  const inst = slot.inst!;
  try {
    await withLease(ctx, clusterOf(rev.spec).restartGovernor, `${node}.${inst.id}`, async () => {
      emit({ type: 'restart.start', service: ctx.service, slot: slot.index, instance: inst.id, why });
      await unroute(ctx, slot, rev);
      slot.healthy = false;
      slot.inst = await runtime.restart(inst.id);
      slot.passes = 0;
      slot.fails = 0;
      let healthy = false;
      try {
        await awaitHealthy(runtime, inst.id, rev.spec.probe, () => undefined);
        healthy = true;
      } catch {
        // Left unregistered; the probes of the next ticks decide (with backoff) what comes next.
      }
      if (healthy) {
        await register(ctx, slot, rev, slot.inst);
        slot.healthy = true;
        slot.passes = rev.spec.probe.healthyThreshold;
      }
      slot.nextProbeAt = Date.now() + rev.spec.probe.interval;
      emit({ type: 'restart.end', service: ctx.service, slot: slot.index, instance: inst.id, healthy });
    });
  } finally {
    done(ctx, slot, `restart finished (${why})`);
  }
}

/** `stop`: out of the routers first, then stopped; the instance is kept so `restart` can start it. */
export async function stopSlot(ctx: OpContext, slot: Slot): Promise<void> {
  const rev = ctx.revision();
  await unroute(ctx, slot, rev);
  slot.healthy = false;
  if (slot.inst && slot.inst.state === InstanceState.Running)
    await ctx.deps.runtime.stop(slot.inst.id, rev.spec.stopTimeout);
  ctx.deps.changed();
}

/** Removes an instance no slot wants (scaled down, a duplicate after a crash, a service no longer desired). */
export async function retire(ctx: OpContext, inst: Instance, why: string): Promise<void> {
  const rev = ctx.revision();
  const { runtime, emit } = ctx.deps;
  if (!(await leaveRouters(ctx, rev, registrationOf(ctx.deps.node, rev, inst)))) return;
  await runtime.stop(inst.id, rev.spec.stopTimeout);
  await runtime.remove(inst.id).catch(() => undefined);
  emit({ type: 'retired', service: ctx.service, instance: inst.id, why });
}
