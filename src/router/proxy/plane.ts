import type { BackendEntry } from './backend.js';

/** What the data path needs from the proxy around it. */
export interface DataPlane {
  /** How long a connection failure keeps a backend out of rotation (passive health). */
  readonly passiveUnhealthyMs: number;
  /** Called when a backend's last request or WebSocket ends (wakes `waitDrained`). */
  idle(b: BackendEntry): void;
  /** A response already begun was cut because its backend failed (logged: the client saw a reset). */
  cut(service: string, b: BackendEntry, code: string): void;
}

/** Ends one request or WebSocket on a backend. */
export function release(plane: DataPlane, b: BackendEntry, websocket: boolean): void {
  if (websocket) b.websockets--;
  else b.inFlight--;
  if (b.inFlight === 0 && b.websockets === 0) plane.idle(b);
}
