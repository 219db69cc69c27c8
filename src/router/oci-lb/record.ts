import type { BackendRecord, RouteRecordBase } from '../external/record.js';
import type { OciLbRouteSettings } from './settings.js';

export type { BackendRecord } from '../external/record.js';

/**
 * One service on the load balancer. OCI backends carry no tags, so which OCI backend is which Baton
 * instance is known only from this record (kept by the shared RouteBook in `<data-dir>/oci-lb/routes.json`).
 */
export interface RouteRecord extends RouteRecordBase<BackendRecord> {
  settings: OciLbRouteSettings;
  loadBalancerId: string;
}
