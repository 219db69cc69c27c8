/**
 * A plan is the ordered list of steps a deploy takes. Planners are pure functions of
 * (desired revision, observed instances, strategy); the engine journals and executes the steps.
 * Instance ids of new instances are decided here (from the deployment id), so a resumed or
 * repeated step finds the instance it created instead of creating a second one.
 */
import type { CheckSpec, HookName } from '../spec/hooks.js';
import type { StrategySpec } from '../spec/strategy.js';

export type Step =
  /** Obtain an automatic (ACME) certificate for hosts that have none yet; a CA failure fails the deploy. */
  | { op: 'certificate'; hosts: string[] }
  /** Start instances of the desired revision. */
  | { op: 'start'; revision: number; instances: string[] }
  /** Wait until each instance passes its probe (healthy threshold) before the start timeout. */
  | { op: 'await-healthy'; instances: string[] }
  /** Add instances to the router as active backends, beside the ones already there. */
  | { op: 'route'; instances: string[] }
  /** Atomic switch: exactly these instances are active; every other backend starts draining. */
  | { op: 'switch'; instances: string[] }
  /** No new requests to these instances; wait until in-flight requests finish or the drain timeout. */
  | { op: 'drain'; instances: string[] }
  /** Remove from the router, stop gracefully, forget. */
  | { op: 'stop'; instances: string[] }
  /** Run a configured hook (pre-deploy, pre-switch, post-switch). */
  | { op: 'hook'; hook: HookName }
  /** Add instances as standby (no production traffic) and serve their revision on the preview listener. */
  | { op: 'preview'; revision: number; instances: string[] }
  /** Run an external check; a failure fails the deploy. */
  | { op: 'check'; check: CheckSpec }
  /** Wait for `baton promote`, or promote by itself after `autoMs`. */
  | { op: 'await-promotion'; autoMs?: number }
  /** Send `percent` of new requests to the canary revision, the rest to the stable one. */
  | { op: 'split'; stable: number; canary: number; percent: number }
  /** End the split: every active backend shares the traffic again. */
  | { op: 'unsplit' }
  /** Wait `ms`, or until `baton promote` when unset. */
  | { op: 'pause'; ms?: number }
  /** Wait until the canary analysis says promote; it may abort; past its deadline it asks a human. */
  | { op: 'judge' }
  /** Keep the old set (draining, idle) this long: `baton rollback` meanwhile switches back instantly. */
  | { op: 'linger'; ms: number; instances: string[] };

export type StepOp = Step['op'];

export interface ObservedInstance {
  id: string;
  revision: number;
  /** Running, healthy and receiving traffic. Anything else is replaced, not counted as capacity. */
  ready: boolean;
}

export interface PlanInput {
  service: string;
  deployment: string;
  revision: number;
  replicas: number;
  strategy: PlanStrategy;
  observed: ObservedInstance[];
  /** Revision serving now (canary: the stable side of the split). */
  stableRevision?: number | null;
  /** Ids new instances must not take (besides observed ones). */
  reservedIds?: string[];
  /** Hooks the service configures; the planner places them. */
  hooks?: HookName[];
  /** `tls: auto` hosts without a certificate yet: issued first, before anything starts. */
  certificates?: string[];
}

/** The strategy as the planner needs it: the spec's, minus what only the engine reads. */
export type PlanStrategy =
  | { type: 'replace' }
  | { type: 'rolling'; maxSurge: number | string; maxUnavailable: number | string }
  | Extract<StrategySpec, { type: 'blue-green' }>
  | Extract<StrategySpec, { type: 'canary' }>;

export interface Plan {
  service: string;
  deployment: string;
  revision: number;
  steps: Step[];
}
