import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Instance, InstanceState, type Revision } from '../core/types.js';
import { withRuntimeHealth } from '../engine/await-healthy.js';
import { runProbe } from '../probe/probe.js';
import { clusterOf } from '../spec/cluster.js';
import type { SlotResult } from './control.js';
import type { Desired } from './desired.js';
import { available, SlotState, type Transition, transition } from './machine.js';
import type { ServiceOnNode } from './node-status.js';
import { backoff, type OpContext, restart, retire, startFresh, stopSlot, update } from './operations.js';
import { type AgentDeps, newSlot, registrationOf, type Slot, slotOf } from './slot.js';

/** A restarted instance that stays healthy this long gets its backoff reset. */
const STABLE_MS = 30_000;

/**
 * One service on this node: `replicas` slots, each with its state machine, reconciled every tick with
 * the desired revision. Operations (start, update, restart, stop, retire) run in the background, one per
 * slot at a time; the tick only decides what to start.
 */
export class ServiceRunner {
  private readonly slots = new Map<number, Slot>();
  private readonly ctx: OpContext;
  private rev: Revision;
  private desired: Desired;
  private abort = new AbortController();
  private readonly mtimes = new Map<string, number>();
  private retiring = new Set<string>();

  constructor(
    private readonly deps: AgentDeps,
    readonly service: string,
    desired: Desired,
    rev: Revision,
  ) {
    this.desired = desired;
    this.rev = rev;
    this.ctx = {
      deps,
      service,
      revision: () => this.rev,
      signal: () => this.abort.signal,
      creating: new Set(),
    };
  }

  get revision(): Revision {
    return this.rev;
  }

  /** A new desired state: waits for governor slots under the old one end. */
  setDesired(desired: Desired, rev: Revision): void {
    const moved = rev.number !== this.rev.number;
    this.desired = desired;
    this.rev = rev;
    if (moved) {
      this.abort.abort(new Error(`desired revision is now ${rev.number}`));
      this.abort = new AbortController();
    }
  }

  /** Takes over the instances this node already runs for the service (after an agent restart). */
  async adopt(): Promise<void> {
    const found = await this.deps.runtime.list(this.service);
    const bySlot = new Map<number, Instance[]>();
    for (const i of found) {
      const n = slotOf(this.service, this.deps.node, i.id);
      if (n === undefined) continue;
      bySlot.set(n, [...(bySlot.get(n) ?? []), i]);
    }
    const rank = (i: Instance) =>
      (i.state === InstanceState.Running ? 2 : 0) + (i.revision === this.rev.number ? 1 : 0);
    for (const [n, list] of bySlot) {
      list.sort((a, b) => rank(b) - rank(a));
      const slot = newSlot(n);
      slot.inst = list[0];
      if (slot.inst?.state === InstanceState.Stopped) slot.state = SlotState.Stop;
      this.slots.set(n, slot);
    }
    this.readMtimes(await this.currentMtimes());
  }

  /** One reconcile pass. */
  async tick(): Promise<void> {
    const spec = this.rev.spec;
    const listed = new Map((await this.deps.runtime.list(this.service)).map((i) => [i.id, i]));
    for (let n = 0; n < spec.replicas; n++) if (!this.slots.has(n)) this.slots.set(n, newSlot(n));
    const touched = await this.touchedFiles();
    const now = Date.now();
    const wanted = new Set<string>();
    for (const slot of [...this.slots.values()]) {
      if (slot.index >= spec.replicas && !slot.op) {
        // Scaled down: the slot goes, its instance is retired below.
        this.slots.delete(slot.index);
        await slot.reg?.stop();
        continue;
      }
      if (slot.inst) wanted.add(slot.inst.id);
      if (slot.op) continue;
      if (slot.inst) slot.inst = listed.get(slot.inst.id);
      this.decide(slot, now, touched);
    }
    for (const inst of listed.values()) {
      if (wanted.has(inst.id) || this.ctx.creating.has(inst.id) || this.retiring.has(inst.id)) continue;
      if (slotOf(this.service, this.deps.node, inst.id) === undefined) continue;
      this.retiring.add(inst.id);
      void retire(this.ctx, inst, 'no slot wants it')
        .catch((err: unknown) => this.deps.logger.warn({ err, instance: inst.id }, 'retire failed'))
        .finally(() => this.retiring.delete(inst.id));
    }
    await Promise.all([...this.slots.values()].filter((s) => !s.op).map((s) => this.probe(s, now)));
  }

  /** An operator's (or the agent's) transition, on every slot of the service on this node. */
  apply(t: Transition): SlotResult[] {
    return [...this.slots.values()]
      .sort((a, b) => a.index - b.index)
      .map((slot) => {
        const from = slot.state;
        const d = transition(from, t);
        const base = { slot: slot.index, instance: slot.inst?.id ?? null, from };
        if (!d.ok) return { ...base, ok: false, reason: d.reason };
        this.setState(slot, d.to, `transition ${t}`);
        if (t === 'restart' && slot.inst && !slot.op) this.run(slot, restart(this.ctx, slot, 'transition'));
        if (t === 'update' && slot.inst && !slot.op) {
          if (slot.inst.revision !== this.rev.number) this.run(slot, update(this.ctx, slot));
          // Same revision: replaced in place, as Hoist's update of an unchanged tag restarts it.
          else this.run(slot, restart(this.ctx, slot, 'transition update'));
        }
        return { ...base, ok: true, to: d.to };
      });
  }

  /** Revisions this node's slots run or are moving to: what a purge must keep. */
  revisionsInUse(): Set<number> {
    const out = new Set([this.rev.number]);
    for (const s of this.slots.values()) if (s.inst) out.add(s.inst.revision);
    return out;
  }

  status(): ServiceOnNode {
    return {
      service: this.service,
      desired: this.desired.revision,
      slots: [...this.slots.values()]
        .sort((a, b) => a.index - b.index)
        .map((s) => ({
          slot: s.index,
          state: s.state,
          available: available(s.state),
          instance: s.inst?.id ?? null,
          revision: s.inst?.revision ?? null,
          healthy: s.healthy,
          registered: s.reg !== undefined,
          restarts: s.restarts,
        })),
    };
  }

  /** Agent shutdown: registrations stop being refreshed (they age out); instances keep running. */
  async close(): Promise<void> {
    this.abort.abort(new Error('agent stopping'));
    await Promise.all([...this.slots.values()].map((s) => s.reg?.stop()));
  }

  /** The service is no longer desired: every instance is drained out and stopped. */
  async removeAll(): Promise<void> {
    this.abort.abort(new Error('service removed'));
    await Promise.all([...this.slots.values()].map((s) => s.op));
    for (const s of this.slots.values()) {
      await s.reg?.stop();
      s.reg = undefined;
      if (s.inst) await retire(this.ctx, s.inst, 'service no longer desired');
    }
    this.slots.clear();
  }

  private decide(slot: Slot, now: number, touched: boolean): void {
    if (slot.state === SlotState.Maintenance) return;
    if (slot.state === SlotState.Stop) {
      if (slot.inst?.state === InstanceState.Running) this.run(slot, stopSlot(this.ctx, slot));
      return;
    }
    if (slot.state !== SlotState.Run) return;
    if (!slot.inst) {
      if (now >= slot.nextRestartAt) this.run(slot, startFresh(this.ctx, slot));
      return;
    }
    if (slot.inst.revision !== this.rev.number) {
      if (now < slot.nextRestartAt) return;
      this.setState(slot, SlotState.Update, `desired revision ${this.rev.number}`);
      this.run(slot, update(this.ctx, slot));
      return;
    }
    if (slot.inst.state !== InstanceState.Running) {
      if (now < slot.nextRestartAt) return;
      backoff(slot);
      this.restartSlot(slot, `instance ${slot.inst.state}`);
      return;
    }
    if (touched) this.restartSlot(slot, 'a watched file changed');
  }

  private async probe(slot: Slot, now: number): Promise<void> {
    const inst = slot.inst;
    if (slot.state !== SlotState.Run || !inst || inst.state !== InstanceState.Running) return;
    if (inst.revision !== this.rev.number || now < slot.nextProbeAt) return;
    const probe = this.rev.spec.probe;
    slot.nextProbeAt = now + probe.interval;
    const r = withRuntimeHealth(await runProbe(probe, { host: inst.host, port: inst.port }), inst);
    if (slot.op || slot.inst !== inst) return;
    if (r.ok) {
      slot.passes++;
      slot.fails = 0;
    } else {
      slot.fails++;
      slot.passes = 0;
    }
    if (r.ok && slot.passes >= probe.healthyThreshold) {
      slot.healthySince ??= now;
      if (now - slot.healthySince > STABLE_MS) slot.restarts = 0;
      if (!slot.healthy || !slot.reg) {
        slot.healthy = true;
        if (!slot.reg)
          slot.reg = await this.deps.registry.keepAlive(registrationOf(this.deps.node, this.rev, inst));
        this.deps.changed();
      }
    } else if (!r.ok && slot.fails >= probe.unhealthyThreshold && now >= slot.nextRestartAt) {
      this.deps.logger.warn(
        { service: this.service, instance: inst.id, probe: r.detail },
        'unhealthy; restarting',
      );
      slot.healthySince = undefined;
      backoff(slot);
      this.restartSlot(slot, `unhealthy: ${r.detail}`);
    }
  }

  private restartSlot(slot: Slot, why: string): void {
    this.setState(slot, SlotState.Restart, why);
    this.run(slot, restart(this.ctx, slot, why));
  }

  private setState(slot: Slot, to: SlotState, why: string): void {
    if (slot.state === to) return;
    this.deps.emit({ type: 'state', service: this.service, slot: slot.index, from: slot.state, to, why });
    slot.state = to;
    this.deps.changed();
  }

  private run(slot: Slot, op: Promise<void>): void {
    slot.op = op
      .catch((err: unknown) => {
        this.deps.logger.warn({ err, service: this.service, slot: slot.index }, 'operation failed');
        backoff(slot);
        if (slot.state === SlotState.Restart || slot.state === SlotState.Update)
          this.setState(slot, SlotState.Run, 'operation failed');
      })
      .finally(() => {
        slot.op = undefined;
      });
  }

  private async currentMtimes(): Promise<Map<string, number>> {
    // Relative paths are the node's own files, under the agent's data dir.
    const files = clusterOf(this.rev.spec).restartFiles.map((f) => resolve(this.deps.dataDir, f));
    const out = new Map<string, number>();
    await Promise.all(
      files.map(async (f) => {
        const s = await stat(f).catch(() => undefined);
        if (s) out.set(f, s.mtimeMs);
      }),
    );
    return out;
  }

  private readMtimes(m: Map<string, number>): void {
    for (const [f, t] of m) this.mtimes.set(f, t);
  }

  /** Whether a watched file's mtime moved forward since the last look (a first look only records it). */
  private async touchedFiles(): Promise<boolean> {
    const cur = await this.currentMtimes();
    let touched = false;
    for (const [f, t] of cur) {
      const before = this.mtimes.get(f);
      if (before !== undefined && t > before) touched = true;
      this.mtimes.set(f, t);
    }
    return touched;
  }
}
