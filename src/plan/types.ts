/**
 * A plan is the ordered list of steps a deploy takes. Planners are pure functions of
 * (desired revision, observed instances, strategy); the engine journals and executes the steps.
 * Instance ids of new instances are decided here (from the deployment id), so a resumed or
 * repeated step finds the instance it created instead of creating a second one.
 */
export type Step =
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
  | { op: 'stop'; instances: string[] };

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
  strategy:
    | { type: 'replace' }
    | { type: 'rolling'; maxSurge: number | string; maxUnavailable: number | string };
  observed: ObservedInstance[];
}

export interface Plan {
  service: string;
  deployment: string;
  revision: number;
  steps: Step[];
}
