import type { CallLog, PlannedCall } from '../cloud/planned.js';
import type { Instance } from '../core/types.js';
import { describeStep } from '../plan/plan.js';
import type { Step } from '../plan/types.js';
import { routeConfigOf } from '../router/route-config.js';
import type { Router } from '../router/router.js';
import type { LogOptions, Runtime, StartRequest } from '../runtime/runtime.js';
import type { ServiceSpec } from '../spec/schema.js';
import type { EngineDeps } from './deps.js';
import { DeploymentSignals } from './signals.js';
import { runStep } from './steps.js';

/** Drivers built in dry-run mode (`baton plan`): reads go to the cloud, writes are recorded in `log`. */
export interface DryDrivers {
  runtime: Runtime;
  router: Router;
  log: CallLog;
  close(): Promise<void>;
}

/** The API calls one step of a plan would make (step 0: making sure the route exists). */
export interface PlannedStep {
  step: number;
  op: string;
  description: string;
  calls: PlannedCall[];
  /** Why a step makes no call here (a hook, a wait for a human, Baton's own probe). */
  note?: string | undefined;
}

/** Steps a plan never runs: they act outside the drivers (commands, webhooks) or wait for people. */
const NOT_RUN: Partial<Record<Step['op'], string>> = {
  hook: 'runs the hook’s commands and webhooks (not run by plan)',
  check: 'runs the check (not run by plan)',
  'await-promotion': 'waits for promotion (baton promote, or autoPromote)',
  pause: 'waits (or baton promote)',
  judge: 'the canary analysis judges (no call to the load balancer)',
  certificate: 'orders the certificate from the ACME CA (not run by plan)',
  linger: 'keeps the previous set for the rollback window',
};

/**
 * Runs `steps` against dry-run drivers — the same step code as a deploy (`runStep`), so the calls listed
 * are the calls a deploy makes — and returns each step's calls. Nothing is journaled, no hook runs, no
 * wait is waited. A started instance is remembered with its placeholder address so later steps (route,
 * switch) name its backends. The bodies hold secret values in clear: the caller hides them
 * (`Deployer.preview`, by value, since a body's paths are not the spec's).
 */
export async function dryRunPlan(
  deps: EngineDeps,
  drivers: DryDrivers,
  job: { service: string; revision: number; spec: ServiceSpec; fromRevision: number | null; steps: Step[] },
): Promise<PlannedStep[]> {
  const { log } = drivers;
  const runtime = new RememberingRuntime(drivers.runtime);
  const strategy = job.spec.strategy;
  // No canary judge in a plan: it would poll the router's counters for real.
  const spec = {
    ...job.spec,
    strategy: strategy.type === 'canary' ? { ...strategy, analysis: undefined } : strategy,
  };
  const ctx = {
    deps: { ...deps, runtime, router: drivers.router },
    service: job.service,
    deployment: 'dry-run',
    revision: job.revision,
    spec: spec as ServiceSpec,
    fromRevision: job.fromRevision,
    emit: () => undefined,
    signals: new DeploymentSignals(),
  };
  const out: PlannedStep[] = [];
  const taken = (from: number) => log.calls.slice(from);
  let from = log.calls.length;
  await drivers.router.ensureRoute(routeConfigOf(job.service, spec.traffic));
  out.push({ step: 0, op: 'ensure-route', description: 'make sure the route exists', calls: taken(from) });
  for (const [i, step] of job.steps.entries()) {
    const base = { step: i + 1, op: step.op, description: describeStep(step) };
    const note =
      NOT_RUN[step.op] ??
      (step.op !== 'await-healthy'
        ? undefined
        : spec.probe.by === 'router'
          ? "the load balancer's health check gates traffic (GetBackendHealth until OK when its backend is added)"
          : 'Baton probes each new instance (no cloud call)');
    if (note) {
      out.push({ ...base, calls: [], note });
      continue;
    }
    from = log.calls.length;
    await runStep(ctx, step);
    out.push({ ...base, calls: taken(from) });
  }
  return out;
}

/** A runtime that remembers the instances a dry run "started", which exist nowhere else. */
class RememberingRuntime implements Runtime {
  readonly kind: string;
  private readonly started = new Map<string, Instance>();

  constructor(private readonly inner: Runtime) {
    this.kind = inner.kind;
  }

  async start(req: StartRequest): Promise<Instance> {
    const inst = await this.inner.start(req);
    this.started.set(inst.id, inst);
    return inst;
  }

  async list(service?: string): Promise<Instance[]> {
    const seen = await this.inner.list(service);
    const extra = [...this.started.values()].filter(
      (i) => (service === undefined || i.service === service) && !seen.some((s) => s.id === i.id),
    );
    return [...seen, ...extra];
  }

  async get(id: string): Promise<Instance | undefined> {
    return this.started.get(id) ?? this.inner.get(id);
  }

  restart(id: string): Promise<Instance> {
    return this.inner.restart(id);
  }

  stop(id: string, timeoutMs: number): Promise<void> {
    return this.inner.stop(id, timeoutMs);
  }

  remove(id: string): Promise<void> {
    return this.inner.remove(id);
  }

  logs(id: string, opts?: LogOptions): AsyncIterable<string> {
    return this.inner.logs(id, opts);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
