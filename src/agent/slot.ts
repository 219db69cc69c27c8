import type { Logger } from 'pino';
import type { Refresher, Registration, Registry } from '../cluster/registry.js';
import type { Instance, Revision } from '../core/types.js';
import type { Runtime } from '../runtime/runtime.js';
import { clusterOf } from '../spec/cluster.js';
import type { Repo } from '../store/repo.js';
import type { Store } from '../store/store.js';
import type { DrainRequest } from './control.js';
import type { Emit } from './events.js';
import type { GovernorCache } from './governors.js';
import { SlotState } from './machine.js';

/** One instance position of a service on this node, with its state machine. */
export interface Slot {
  index: number;
  state: SlotState;
  inst: Instance | undefined;
  /** Its registration's refresher, while registered. */
  reg: Refresher | undefined;
  passes: number;
  fails: number;
  nextProbeAt: number;
  restarts: number;
  nextRestartAt: number;
  healthySince: number | undefined;
  /** Its last probes passed (healthyThreshold in a row). */
  healthy: boolean;
  /** The restart or update under way. */
  op: Promise<void> | undefined;
}

export const newSlot = (index: number): Slot => ({
  index,
  state: SlotState.Run,
  inst: undefined,
  reg: undefined,
  passes: 0,
  fails: 0,
  nextProbeAt: 0,
  restarts: 0,
  nextRestartAt: 0,
  healthySince: undefined,
  healthy: false,
  op: undefined,
});

/** What a service runner needs from its agent. */
export interface AgentDeps {
  node: string;
  /** The agent's data dir: relative `restartFiles` are resolved against it. */
  dataDir: string;
  runtime: Runtime;
  registry: Registry;
  governors: GovernorCache;
  store: Store;
  repo: Repo;
  emit: Emit;
  logger: Logger;
  /** Told when a governor lease is taken (after how long a wait) and released: the agent's metrics. */
  leases?: { leaseTaken(governor: string, waitedMs: number): void; leaseReleased(governor: string): void };
  /**
   * Asks every node's router to stop sending to `req.instances` (making `req.replacements` active first)
   * and waits until every live node confirmed, asking again each `attemptMs`. False only when the agent
   * is stopping first: the instances must then keep running (see confirmDrain).
   */
  drainEverywhere(req: DrainRequest, attemptMs: number): Promise<boolean>;
  /** Something visible changed: publish the node status soon. */
  changed(): void;
}

/** `<service>-<node>-s<slot>-r<revision>`: which slot and revision an adopted instance is. */
export const instanceIdOf = (service: string, node: string, slot: number, revision: number): string =>
  `${service}-${node}-s${slot}-r${revision}`;

export function slotOf(service: string, node: string, id: string): number | undefined {
  const prefix = `${service}-${node}-s`;
  if (!id.startsWith(prefix)) return undefined;
  const m = /^(\d+)-r\d+$/.exec(id.slice(prefix.length));
  return m ? Number(m[1]) : undefined;
}

export function registrationOf(node: string, rev: Revision, inst: Instance): Registration {
  const r = clusterOf(rev.spec).register;
  return {
    cluster: r.cluster,
    service: rev.service,
    protocol: r.protocol,
    instance: inst.id,
    address: inst.host,
    port: inst.port,
    priority: r.priority,
    annotations: { ...r.annotations, 'baton.node': node },
    revision: inst.revision,
  };
}
