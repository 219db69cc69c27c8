import type { DeployEvent } from '../engine/events.js';
import type { EngineObserver } from '../engine/observer.js';
import type { ServicePoint } from './sampler.js';

/** What the event stream carries: a deploy's progress, or a new chart point. */
export type HubEvent =
  | { kind: 'deploy'; service: string; deployment: string; event: DeployEvent }
  | { kind: 'sample'; service: string; point: ServicePoint };

type Subscriber = { service: (name: string) => boolean; send: (e: HubEvent) => void };

/**
 * Fan-out of the control plane's live events to `GET /v1/events` streams. Each subscriber says which
 * services it may see (its token's scope); a slow subscriber is its stream's problem (see events route).
 */
export class EventHub {
  private readonly subscribers = new Set<Subscriber>();

  publish(e: HubEvent): void {
    for (const s of this.subscribers) if (s.service(e.service)) s.send(e);
  }

  subscribe(service: (name: string) => boolean, send: (e: HubEvent) => void): () => void {
    const s = { service, send };
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** The engine's deploy events, as it tells its observers (secrets already hidden). */
  observer(): EngineObserver {
    return {
      deployEvent: (run, event) =>
        this.publish({ kind: 'deploy', service: run.service, deployment: run.deployment, event }),
    };
  }
}
