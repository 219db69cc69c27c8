import type { BackendRecord, RouteRecordBase } from '../external/record.js';
import type { AlbRouteSettings } from './settings.js';

/** What Baton wants for one of its backends: a target `ip:port` in its revision's target group. */
export type { BackendRecord } from '../external/record.js';

/** One of the two target groups and the revision it carries (null: free). */
export interface Slot {
  targetGroupArn: string;
  revision: number | null;
}

/** One service on the ALB: Baton's record, from which every desired target and action is computed. */
export interface RouteRecord extends RouteRecordBase<BackendRecord> {
  /** host:port where testers reach the preview listener (informational: the ALB's preview listener serves it). */
  preview?: string | undefined;
  settings: AlbRouteSettings;
  /** `http(s)://<ALB DNS name>:<port>` of the listener: where the post-deploy check goes. */
  url: string;
  slots: [Slot, Slot];
  previewRevision: number | null;
  /** The last actions applied (JSON), so an unchanged action is not sent again. */
  applied: { listener?: string; preview?: string };
}
