import { DriverError } from '../../core/errors.js';

/**
 * Prefix of the `server-template` slots Baton fills (`server-template baton-slot 1-32 127.0.0.1:1
 * disabled check …` gives `baton-slot1` … `baton-slot32`). Slots are config servers: HAProxy's
 * `server-state-file` restores them at start, which it never does for dynamic (`add server`) ones.
 */
export const SLOT_PREFIX = 'baton-slot';
const SLOT = new RegExp(`^${SLOT_PREFIX}(\\d+)$`);

/** One server line of `show servers state` (format version 1), the fields Baton reads. */
export interface ServerState {
  backend: string;
  name: string;
  addr: string;
  port: number;
  /** HAProxy's admin flags: 0x01 forced MAINT, 0x04 MAINT by config (`disabled`), 0x08 forced DRAIN. */
  admin: number;
  uweight: number;
  iweight: number;
}

/** Parses `show servers state [<backend>]`: name → server (every backend listed). */
export function parseServersState(text: string): ServerState[] {
  const out: ServerState[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 19 || line.startsWith('#')) continue;
    out.push({
      backend: f[1]!,
      name: f[3]!,
      addr: f[4]!,
      admin: Number(f[6]),
      uweight: Number(f[7]),
      iweight: Number(f[8]),
      port: Number(f[18]),
    });
  }
  return out;
}

/** Baton's slots of a backend, in slot order. */
export function slotNames(states: ServerState[], backend: string): string[] {
  return states
    .filter((s) => s.backend === backend && SLOT.test(s.name))
    .map((s) => s.name)
    .sort((a, b) => Number(SLOT.exec(a)![1]) - Number(SLOT.exec(b)![1]));
}

/** The admin state a server line shows: forced MAINT wins over DRAIN. */
export function adminOf(s: Pick<ServerState, 'admin'>): 'maint' | 'drain' | 'ready' {
  if (s.admin & 0x01) return 'maint';
  if (s.admin & 0x08) return 'drain';
  return 'ready';
}

/**
 * A free slot for a new server: the first one after the slot taken last (cyclically), so a slot freed a
 * moment ago — whose HAProxy counters still count the server that left — is reused last. Pure.
 */
export function pickSlot(
  service: string,
  slots: string[],
  used: Set<string>,
  last: string | undefined,
): string {
  const start = last ? slots.indexOf(last) + 1 : 0;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[(start + i) % slots.length]!;
    if (!used.has(s)) return s;
  }
  throw new DriverError(
    'haproxy',
    `service ${service}: all ${slots.length} server-template slots (${SLOT_PREFIX}N) are in use: raise the count of "server-template ${SLOT_PREFIX}" in haproxy.cfg and reload`,
  );
}
