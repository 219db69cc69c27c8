import { KEEP_ALIVE_TIMEOUT_MS } from '../router/proxy/keep-alive.js';

/** Defaults of `baton.yaml`, defined once (the schema, the starter file and the docs read them). */
export const DEFAULTS = {
  replicas: 1,
  probe: {
    interval: 1000,
    timeout: 1000,
    healthyThreshold: 1,
    unhealthyThreshold: 3,
    startTimeout: 30_000,
  },
  drainTimeout: 30_000,
  /**
   * How long the embedded proxy keeps an idle client connection open (announced as `Keep-Alive:
   * timeout=120`). Above what common clients keep an idle socket (Go 90 s, Firefox 115 s, curl 118 s)
   * and above nginx's 75 s, so the client retires its socket first; Node's own default is 5 s.
   */
  keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  stopTimeout: 10_000,
  // Kubernetes' defaults: surge one extra in four, lose at most one in four.
  maxSurge: '25%',
  maxUnavailable: '25%',
  historyLimit: 10,
  /** Blue-green: how long the old set stays up after the switch, for an instant rollback. */
  scaleDownDelay: 30_000,
  /** Hooks and checks: time limit of one run. */
  hookTimeout: 60_000,
  /** Canary: how often the analysis judges, and how long it may wait for enough traffic. */
  analysisInterval: 5_000,
  analysisDeadline: 600_000,
} as const;
