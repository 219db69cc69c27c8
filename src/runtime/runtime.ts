import type { Instance } from '../core/types.js';
import type { ServiceSpec } from '../spec/schema.js';

export interface StartRequest {
  /** Chosen by the engine so a repeated step can find the instance instead of creating another. */
  id: string;
  service: string;
  revision: number;
  deployment: string;
  spec: ServiceSpec;
}

/** Which service and revision a resource belongs to (what `purge` decides on). */
export interface PurgeTarget {
  service: string;
  revision: number;
}

export interface LogOptions {
  follow?: boolean;
  /** Last N lines of what exists already (default: all). */
  tail?: number;
  signal?: AbortSignal;
}

/**
 * Creates, inspects, stops and removes instances. Implementations: `process` (default), `docker`,
 * `fake` (tests), `multi` (routes by the service's `runtime`); later `oci`, `ecs`. Instances outlive the Runtime object: `close()` releases Baton's handles
 * and leaves instances running, and a new Runtime over the same state finds them again (adoption).
 */
export interface Runtime {
  readonly kind: string;
  /** Starts an instance and resolves once it is started (not once it is healthy). Idempotent on `id`. */
  start(req: StartRequest): Promise<Instance>;
  /** All instances this runtime manages, optionally of one service; exited ones included. */
  list(service?: string): Promise<Instance[]>;
  get(id: string): Promise<Instance | undefined>;
  /** Starts an exited instance again with the same id and address. */
  restart(id: string): Promise<Instance>;
  /** Graceful stop: SIGTERM (or equivalent), then kill after `timeoutMs`. Idempotent. */
  stop(id: string, timeoutMs: number): Promise<void>;
  /** Forgets a stopped or exited instance. Idempotent. */
  remove(id: string): Promise<void>;
  /** The instance's output, line by line. */
  logs(id: string, opts?: LogOptions): AsyncIterable<string>;
  /**
   * Optional (docker): removes the instances this runtime created for which `keep` is false, even those
   * it has no record of (Choria Hoist's purge), and returns their ids. Never touches unlabelled resources.
   */
  purge?(keep: (target: PurgeTarget) => boolean): Promise<string[]>;
  close(): Promise<void>;
}
