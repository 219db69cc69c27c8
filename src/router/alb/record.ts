import type { BackendState, RevisionSplit, RouteMode } from '../router.js';
import type { AlbRouteSettings } from './settings.js';

/** What Baton wants for one of its backends: a target `ip:port` in its revision's target group. */
export interface BackendRecord {
  id: string;
  address: string;
  revision: number;
  weight: number;
  state: BackendState;
  healthy: boolean;
}

/** One of the two target groups and the revision it carries (null: free). */
export interface Slot {
  targetGroupArn: string;
  revision: number | null;
}

/** One service on the ALB: Baton's record, from which every desired target and action is computed. */
export interface RouteRecord {
  service: string;
  listen: string;
  /** host:port where testers reach the preview listener (informational: the ALB's preview listener serves it). */
  preview?: string | undefined;
  drainTimeoutMs: number;
  settings: AlbRouteSettings;
  /** `http(s)://<ALB DNS name>:<port>` of the listener: where the post-deploy check goes. */
  url: string;
  slots: [Slot, Slot];
  split: RevisionSplit | null;
  mode: RouteMode;
  previewRevision: number | null;
  backends: BackendRecord[];
  /** The last actions applied (JSON), so an unchanged action is not sent again. */
  applied: { listener?: string; preview?: string };
}
