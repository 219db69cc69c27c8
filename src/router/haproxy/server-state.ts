import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { targets } from './desired.js';
import { serverAddress } from './names.js';
import type { RouteRecord } from './record.js';

/** Admin flags of a `disabled` template slot: MAINT by config (kept), plus forced DRAIN or MAINT. */
const CMAINT = 0x04;
/** More than any rise + fall: read back as the server's full health. */
const FULL_HEALTH = 999;
const ADMIN = { ready: CMAINT, drain: CMAINT | 0x08, maint: CMAINT | 0x01 } as const;

/**
 * HAProxy's server-state file (format 1, as `show servers state` prints it) for the slots of these
 * routes: each slot's address, port, admin state (ready, DRAIN, MAINT) and weight as Baton wants them.
 * A new HAProxy process (reload or restart) applies it before it accepts a connection, matched by backend
 * and server name; slots not listed keep their config line (`disabled`, the placeholder address).
 *
 * Operational state is written as running and fully healthy (HAProxy caps the health counter at its
 * rise + fall - 1): a server Baton routes to has passed Baton's probe, and HAProxy's own checks take
 * over from the first one. The config weight (`srv_iweight`) is 1: HAProxy
 * applies the saved weight only when the config's is the one saved, so template lines carry no weight.
 */
export async function renderServerState(routes: RouteRecord[]): Promise<string> {
  const lines = [
    '1',
    '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port',
  ];
  for (const r of routes)
    for (const t of targets(r)) {
      if (!t.server.slot) continue;
      const { ip, port } = await serverAddress(t.server.address);
      lines.push(
        `0 ${r.backend} 0 ${t.name} ${ip} 2 ${ADMIN[t.admin]} ${t.weight} 1 0 6 3 ${FULL_HEALTH} 6 0 0 0 - ${port} - 0 0 - - 0`,
      );
    }
  return `${lines.join('\n')}\n`;
}

/**
 * Writes every server-state file the routes name, whole and atomically (a reload reads the old file or
 * the new one, never half). Owner read-write, group read: HAProxy reads it at start (as root, or as a
 * member of Baton's group); it lists backend addresses, no secrets.
 */
export async function writeServerStates(routes: RouteRecord[]): Promise<void> {
  const files = new Set(routes.map((r) => r.serverStateFile).filter((f): f is string => !!f));
  for (const file of files) {
    const text = await renderServerState(routes.filter((r) => r.serverStateFile === file));
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o640 });
    renameSync(tmp, file);
  }
}
