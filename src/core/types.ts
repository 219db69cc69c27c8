import type { Step } from '../plan/types.js';
import type { ServiceSpec } from '../spec/schema.js';

/** Lifecycle of one instance as its runtime sees it. */
export const InstanceState = {
  /** Created and started; not yet known to be healthy. */
  Running: 'running',
  /** Exited on its own (crash or clean exit) and not yet restarted or removed. */
  Exited: 'exited',
  /** Stopped by Baton. */
  Stopped: 'stopped',
} as const;
export type InstanceState = (typeof InstanceState)[keyof typeof InstanceState];

export interface Instance {
  id: string;
  service: string;
  revision: number;
  /** Deployment that created it (every created resource carries it, so a resumed step finds it). */
  deployment: string;
  host: string;
  port: number;
  state: InstanceState;
  pid?: number | undefined;
  exitCode?: number | null | undefined;
  signal?: string | null | undefined;
  startedAt: string;
  restarts: number;
  /**
   * The runtime's own health verdict, when it has one (a Docker image's HEALTHCHECK). Baton's probe
   * must pass too; `starting` and `unhealthy` keep an instance out of traffic.
   */
  health?: 'starting' | 'healthy' | 'unhealthy' | undefined;
}

export const address = (i: Pick<Instance, 'host' | 'port'>): string => `${i.host}:${i.port}`;

/** Status of a revision in a service's history. */
export const RevisionStatus = {
  Pending: 'pending',
  Active: 'active',
  Superseded: 'superseded',
  Failed: 'failed',
} as const;
export type RevisionStatus = (typeof RevisionStatus)[keyof typeof RevisionStatus];

/** An immutable, numbered snapshot of a service's spec. */
export interface Revision {
  service: string;
  number: number;
  /** sha256 of the canonical JSON of the spec. */
  hash: string;
  spec: ServiceSpec;
  createdAt: string;
  status: RevisionStatus;
  /**
   * Dotted paths, relative to `spec`, of values that came from `!env`, `!file` or `!base64`: stored in
   * clear (instances are started from them later) and hidden wherever the spec is shown (core/secrets.ts).
   */
  secretPaths?: string[] | undefined;
  /** The older form of `secretPaths`: names under `env` only. Still read; written beside it. */
  secretEnv?: string[] | undefined;
  /** Why it failed, when it did. */
  reason?: string | undefined;
}

export const DeploymentState = {
  Planned: 'planned',
  Running: 'running',
  RollingBack: 'rolling-back',
  Succeeded: 'succeeded',
  RolledBack: 'rolled-back',
  Failed: 'failed',
} as const;
export type DeploymentState = (typeof DeploymentState)[keyof typeof DeploymentState];

export interface Deployment {
  id: string;
  service: string;
  fromRevision: number | null;
  toRevision: number;
  state: DeploymentState;
  /** What started it: `deploy`, `rollback`. */
  kind: 'deploy' | 'rollback';
  actor: string;
  startedAt: string;
  finishedAt?: string | undefined;
  error?: string | undefined;
  /** The plan as computed at the start: a resumed deployment continues it. */
  plan?: Step[] | undefined;
}

/** The service record: which revision is desired and which serves. */
export interface ServiceRecord {
  name: string;
  /** Revision currently serving traffic (null before the first successful deploy). */
  current: number | null;
  /** Highest revision number ever assigned. */
  lastRevision: number;
  /** Set by `baton stop`: the supervisor leaves the service down. */
  stopped?: boolean | undefined;
  /** When `baton destroy` removed everything it ran (history kept); a later deploy clears it. */
  destroyed?: string | undefined;
}

/** A probe outcome, kept short enough to print. */
export interface ProbeResult {
  ok: boolean;
  /** e.g. `HTTP 500 from GET /health`, `connection refused`, `exit 1: <stderr tail>` */
  detail: string;
  ms: number;
}
