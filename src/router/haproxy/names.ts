import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { InputError } from '../../core/errors.js';

/** Prefix of every server Baton adds: the user's own servers in the same backend are never touched. */
export const SERVER_PREFIX = 'baton-';

/**
 * The HAProxy server name of a Baton backend id, deterministic and a valid HAProxy identifier
 * (letters, digits, `-`, `_`, `.`, `:`). An id that is already valid keeps its spelling after the prefix;
 * any other gets its invalid characters replaced and a short hash of the id appended, so two ids never
 * map to one name.
 */
export function serverName(id: string): string {
  const safe = id.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 48);
  if (safe === id) return `${SERVER_PREFIX}${id}`;
  return `${SERVER_PREFIX}${safe}-${createHash('sha1').update(id).digest('hex').slice(0, 8)}`;
}

/** The HAProxy server carrying a Baton backend: its `server-template` slot, else its dynamic server. */
export const nameOf = (s: { id: string; slot?: string | undefined }): string => s.slot ?? serverName(s.id);

/**
 * `host:port` as HAProxy wants it for a dynamic server: an IP literal. Dynamic servers use
 * `init-addr none` in HAProxy 2.6 (no DNS resolution), so a host name is resolved here, once.
 */
export async function serverAddress(address: string): Promise<{ ip: string; port: number; text: string }> {
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(address);
  if (!m) throw new InputError(`backend address "${address}" is not host:port`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  const ip = isIP(host) ? host : (await lookup(host)).address;
  return { ip, port, text: isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}` };
}
