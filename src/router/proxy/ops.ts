import type { Backend, DrainResult, RevisionSplit, RouteConfig, RouteMode, RouteStatus } from '../router.js';
import type { Snapshot } from './snapshot.js';

/**
 * One admin change, as the primary relays it to every worker (plain JSON over the cluster IPC channel).
 * Workers apply the same changes in the same order to the same starting snapshot, so their tables agree.
 */
export type Change =
  | { op: 'ensureRoute'; route: RouteConfig }
  | { op: 'removeRoute'; service: string }
  | { op: 'addBackends'; service: string; backends: Backend[]; standby: boolean }
  | { op: 'switchTo'; service: string; ids: string[]; add: Backend[] }
  | { op: 'drain'; service: string; ids: string[] }
  | { op: 'removeBackends'; service: string; ids: string[] }
  | { op: 'setHealthy'; service: string; id: string; healthy: boolean }
  | { op: 'setSplit'; service: string; split: RevisionSplit | null }
  | { op: 'setPreview'; service: string; revision: number | null }
  | { op: 'setMode'; service: string; mode: RouteMode }
  | { op: 'setHttpListen'; listen: string | null }
  | { op: 'setChallenge'; token: string; keyAuthorization: string }
  | { op: 'deleteChallenge'; token: string };

/** What applies a change: the single-process proxy, or a worker's tables. */
export interface Changes {
  ensureRoute(route: RouteConfig): Promise<void>;
  removeRoute(service: string): Promise<void>;
  addBackends(service: string, backends: Backend[], opts: { standby?: boolean }): Promise<void>;
  switchTo(service: string, ids: string[], add: Backend[]): Promise<void>;
  drain(service: string, ids: string[]): Promise<void>;
  removeBackends(service: string, ids: string[]): Promise<void>;
  setHealthy(service: string, id: string, healthy: boolean): Promise<void>;
  setSplit(service: string, split: RevisionSplit | null): Promise<void>;
  setPreview(service: string, revision: number | null): Promise<void>;
  setMode(service: string, mode: RouteMode): Promise<void>;
  setHttpListen(listen: string | null): Promise<void>;
  setChallenge(token: string, keyAuthorization: string): Promise<void>;
  deleteChallenge(token: string): Promise<void>;
}

export function applyChange(to: Changes, c: Change): Promise<void> {
  switch (c.op) {
    case 'ensureRoute':
      return to.ensureRoute(c.route);
    case 'removeRoute':
      return to.removeRoute(c.service);
    case 'addBackends':
      return to.addBackends(c.service, c.backends, { standby: c.standby });
    case 'switchTo':
      return to.switchTo(c.service, c.ids, c.add);
    case 'drain':
      return to.drain(c.service, c.ids);
    case 'removeBackends':
      return to.removeBackends(c.service, c.ids);
    case 'setHealthy':
      return to.setHealthy(c.service, c.id, c.healthy);
    case 'setSplit':
      return to.setSplit(c.service, c.split);
    case 'setPreview':
      return to.setPreview(c.service, c.revision);
    case 'setMode':
      return to.setMode(c.service, c.mode);
    case 'setHttpListen':
      return to.setHttpListen(c.listen);
    case 'setChallenge':
      return to.setChallenge(c.token, c.keyAuthorization);
    case 'deleteChallenge':
      return to.deleteChallenge(c.token);
  }
}

/** Settings a worker gets with its first message. */
export interface WorkerSettings {
  dataDir: string;
  shutdownTimeoutMs: number;
  passiveUnhealthyMs: number;
  /** Listening sockets inherited from the proxy this one replaced (see `inherit.ts`). */
  inherit?: Record<string, number>;
  /** A route that cannot listen fails the start (a proxy taking over) instead of being logged. */
  strictListen?: boolean;
}

/** Primary → worker. Every message but `close` is answered by one `reply` with the same `seq`. */
export type ToWorker =
  | { t: 'init'; seq: number; snapshot: Snapshot; settings: WorkerSettings }
  | { t: 'change'; seq: number; change: Change }
  | { t: 'status'; seq: number }
  | { t: 'wait'; seq: number; service: string; ids: string[]; timeoutMs: number }
  | { t: 'close' }
  /** Send every listening socket (one `handle` message each), then reply with their addresses. */
  | { t: 'handles'; seq: number }
  /** Stop accepting, finish what is open (at most `graceMs`), reply with the final status, exit. */
  | { t: 'retire'; seq: number; graceMs: number };

/** Worker → primary: `hello` once it listens for messages, then replies. */
export type FromWorker =
  | { t: 'hello' }
  | { t: 'handle'; seq: number; listen: string }
  | {
      t: 'reply';
      seq: number;
      value?: RouteStatus[] | DrainResult | string[];
      error?: { code: string; message: string };
    };
