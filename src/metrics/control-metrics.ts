import { Counter, collectDefaultMetrics, Gauge, Histogram } from 'prom-client';
import type { Instance } from '../core/types.js';
import type { DeployEvent } from '../engine/events.js';
import type { DeployRun, EngineObserver } from '../engine/observer.js';
import { registerInstanceMetrics } from './instance-metrics.js';
import type { Scrape } from './scrape.js';

/** Deploys take seconds to an hour (canary pauses, analysis windows). */
const DEPLOY_BUCKETS_S = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600];

const NOT_CONVENTIONAL = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** How a finished deployment ended, as a label: its state, or `succeeded`. */
function outcomeOf(e: Extract<DeployEvent, { type: 'result' }>): string {
  if (e.ok) return 'succeeded';
  return e.state === 'rolled-back' ? 'rolled_back' : 'failed';
}

/**
 * The control plane's metrics. Deploys, rollbacks, verdicts, restarts and lock contention are counted as
 * the engine tells them (an observer: a few increments per deploy); instances are listed from the runtime
 * at scrape time.
 */
export class ControlMetrics implements EngineObserver {
  private readonly deploys: Counter<'service' | 'strategy' | 'outcome'>;
  private readonly duration: Histogram<'service' | 'strategy' | 'outcome'>;
  private readonly running: Gauge<'service'>;
  private readonly rollbacks: Counter<'service' | 'trigger'>;
  private readonly verdicts: Counter<'service' | 'verdict'>;
  private readonly restarts: Counter<'service'>;
  private readonly lockWaits: Counter<'service' | 'outcome'>;
  /** Deployments counted in `running`. */
  private readonly started = new Set<string>();

  constructor(scrape: Scrape, instances: () => Promise<Instance[]>) {
    const registers = [scrape.registry];
    // process_* and nodejs_*: the usual names dashboards expect, unprefixed. Three of them are gauges
    // named *_total, which `promtool check metrics` rejects: left out.
    collectDefaultMetrics({ register: scrape.registry });
    for (const name of NOT_CONVENTIONAL) scrape.registry.removeSingleMetric(name);
    this.deploys = new Counter({
      name: 'baton_deploys_total',
      help: 'Finished deployments (deploys and rollbacks) by strategy and outcome (succeeded, rolled_back, failed).',
      labelNames: ['service', 'strategy', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'baton_deploy_duration_seconds',
      help: 'Time from a deployment taking its lock until its outcome was recorded.',
      labelNames: ['service', 'strategy', 'outcome'],
      buckets: DEPLOY_BUCKETS_S,
      registers,
    });
    this.running = new Gauge({
      name: 'baton_deploys_running',
      help: 'Deployments running now in this control plane.',
      labelNames: ['service'],
      registers,
    });
    this.rollbacks = new Counter({
      name: 'baton_rollbacks_total',
      help: 'Rollbacks: of a failed deploy (trigger failed_deploy) or asked for (baton rollback: requested).',
      labelNames: ['service', 'trigger'],
      registers,
    });
    this.verdicts = new Counter({
      name: 'baton_analysis_verdicts_total',
      help: 'Canary analysis verdicts reported (promote, abort; wait when it changes).',
      labelNames: ['service', 'verdict'],
      registers,
    });
    this.restarts = new Counter({
      name: 'baton_instance_restarts_total',
      help: 'Exited instances restarted by the supervisor.',
      labelNames: ['service'],
      registers,
    });
    this.lockWaits = new Counter({
      name: 'baton_deploy_lock_waits_total',
      help: 'Deploys that found the service deploy lock held: refused (other work holds it) or taken_over (its holder died).',
      labelNames: ['service', 'outcome'],
      registers,
    });
    registerInstanceMetrics(scrape, instances);
  }

  deployEvent(run: DeployRun, e: DeployEvent): void {
    const { service, strategy } = run;
    if (e.type === 'deployment') {
      this.started.add(run.deployment);
      this.running.inc({ service });
    } else if (e.type === 'analysis') this.verdicts.inc({ service, verdict: e.decision });
    else if (e.type === 'result') {
      const outcome = outcomeOf(e);
      // Only a deployment counted as running goes down (the gauge never goes negative).
      if (this.started.delete(run.deployment)) this.running.dec({ service });
      this.deploys.inc({ service, strategy, outcome });
      this.duration.observe({ service, strategy, outcome }, (Date.now() - run.startedAt) / 1000);
      if (run.kind === 'rollback' && e.ok) this.rollbacks.inc({ service, trigger: 'requested' });
      if (outcome === 'rolled_back') this.rollbacks.inc({ service, trigger: 'failed_deploy' });
    }
  }

  instanceRestarted(service: string): void {
    this.restarts.inc({ service });
  }

  lockHeld(service: string, outcome: 'refused' | 'taken_over'): void {
    this.lockWaits.inc({ service, outcome });
  }
}
