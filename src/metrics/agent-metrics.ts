import { Counter, collectDefaultMetrics, Gauge, Histogram } from 'prom-client';
import type { AgentEvent } from '../agent/events.js';
import type { ServiceOnNode } from '../agent/node-status.js';
import type { Instance } from '../core/types.js';
import { proxyRoutes } from './control-plane.js';
import { registerInstanceMetrics } from './instance-metrics.js';
import { registerProxyMetrics } from './proxy-metrics.js';
import { Scrape } from './scrape.js';

/** Governor waits last from nothing to a whole rollout of many nodes. */
const WAIT_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** A KV watch delivers a change in milliseconds; seconds mean trouble (a failover, a stalled consumer). */
const LAG_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A cluster agent's metrics, every series labelled with its `node`: its instances and slots, updates,
 * restarts and reverts (from the agent's own events), governor leases held and waited for, registrations,
 * the lag of the desired-state KV watch, and its embedded proxy.
 */
export class AgentMetrics {
  readonly scrape = new Scrape();
  private readonly updates: Counter<'service' | 'outcome'>;
  private readonly restarts: Counter<'service' | 'outcome'>;
  private readonly reverts: Counter<'service'>;
  private readonly leaseWait: Histogram<'governor'>;
  private readonly leasesHeld: Gauge<'governor'>;
  private readonly lag: Histogram;

  constructor(
    node: string,
    dataDir: string,
    instances: () => Promise<Instance[]>,
    services: () => ServiceOnNode[],
  ) {
    const registry = this.scrape.registry;
    registry.setDefaultLabels({ node });
    const registers = [registry];
    collectDefaultMetrics({ register: registry });
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ])
      registry.removeSingleMetric(name);
    this.updates = new Counter({
      name: 'baton_agent_updates_total',
      help: 'Instance updates to a new desired revision on this node, by outcome (succeeded, failed).',
      labelNames: ['service', 'outcome'],
      registers,
    });
    this.restarts = new Counter({
      name: 'baton_agent_restarts_total',
      help: 'Instance restarts on this node (exited, or a restart file changed), by outcome (healthy, unhealthy).',
      labelNames: ['service', 'outcome'],
      registers,
    });
    this.reverts = new Counter({
      name: 'baton_agent_reverts_total',
      help: 'Desired revisions this agent reverted after too many failed updates (the cluster rollback).',
      labelNames: ['service'],
      registers,
    });
    this.leaseWait = new Histogram({
      name: 'baton_agent_governor_wait_seconds',
      help: 'Time waited for a governor lease before an update or restart could start.',
      labelNames: ['governor'],
      buckets: WAIT_BUCKETS_S,
      registers,
    });
    this.leasesHeld = new Gauge({
      name: 'baton_agent_governor_leases_held',
      help: 'Governor leases this agent holds now.',
      labelNames: ['governor'],
      registers,
    });
    this.lag = new Histogram({
      name: 'baton_agent_kv_watch_lag_seconds',
      help: 'Time from the desired state being stored in NATS KV until this agent received the change.',
      buckets: LAG_BUCKETS_S,
      registers,
    });
    new Gauge({
      name: 'baton_agent_registrations',
      help: 'Instances of this node registered (and refreshed) in the registration bucket now.',
      labelNames: ['service'],
      registers,
      collect() {
        this.reset();
        for (const s of services())
          this.set({ service: s.service }, s.slots.filter((x) => x.registered).length);
      },
    });
    new Gauge({
      name: 'baton_agent_slots',
      help: 'Instance slots of this node by state-machine state (run, restart, update, stop, maintenance).',
      labelNames: ['service', 'state'],
      registers,
      collect() {
        this.reset();
        for (const s of services()) for (const x of s.slots) this.inc({ service: s.service, state: x.state });
      },
    });
    registerInstanceMetrics(this.scrape, instances);
    registerProxyMetrics(this.scrape, proxyRoutes(dataDir));
  }

  /** `emit` that also counts each event. */
  counting(emit: (e: AgentEvent) => void): (e: AgentEvent) => void {
    return (e) => {
      emit(e);
      this.event(e);
    };
  }

  /** Counts what the agent reports in its event log. */
  event(e: AgentEvent): void {
    if (e.type === 'update.end') this.updates.inc({ service: e.service, outcome: 'succeeded' });
    else if (e.type === 'update.failed') this.updates.inc({ service: e.service, outcome: 'failed' });
    else if (e.type === 'restart.end')
      this.restarts.inc({ service: e.service, outcome: e.healthy ? 'healthy' : 'unhealthy' });
    else if (e.type === 'revert') this.reverts.inc({ service: e.service });
  }

  leaseTaken(governor: string, waitedMs: number): void {
    this.leaseWait.observe({ governor }, waitedMs / 1000);
    this.leasesHeld.inc({ governor });
  }

  leaseReleased(governor: string): void {
    this.leasesHeld.dec({ governor });
  }

  watchLag(ms: number): void {
    this.lag.observe(Math.max(0, ms) / 1000);
  }
}
