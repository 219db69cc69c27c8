import type { BackendState, RevisionSplit, RouteMode } from '../router.js';
import type { OciLbRouteSettings } from './settings.js';

/** What Baton wants for one of its backends (a Baton instance), whatever OCI backends carry it. */
export interface BackendRecord {
  id: string;
  address: string;
  revision: number;
  weight: number;
  state: BackendState;
  healthy: boolean;
}

/** One service on the load balancer. */
export interface RouteRecord {
  service: string;
  listen: string;
  drainTimeoutMs: number;
  settings: OciLbRouteSettings;
  loadBalancerId: string;
  split: RevisionSplit | null;
  mode: RouteMode;
  backends: BackendRecord[];
}
