import { isIP } from 'node:net';
import { InputError } from '../core/errors.js';

/** `host:port` (IPv6 in brackets) → its parts; bad input is exit 2. */
export function parseListen(listen: string): { host: string; port: number } {
  const text = listen.replace(/^https?:\/\//, '');
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(text.slice(colon + 1));
  if (colon < 1 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new InputError(`--listen: expected host:port such as 127.0.0.1:7607, found "${listen}"`);
  return { host, port };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || /^::ffff:127\./i.test(host);
}

/**
 * Beyond loopback the API carries bearer tokens over the network: refused unless it speaks TLS or the
 * operator said `--insecure-listen` (e.g. behind a TLS-terminating proxy on a private network).
 */
export function checkListen(listen: string, opts: { tls: boolean; insecure: boolean }): void {
  const { host } = parseListen(listen);
  if (isLoopback(host) || opts.tls || opts.insecure) return;
  throw new InputError(
    `--listen ${listen} is beyond this machine: tokens would cross the network in clear. Give --tls-cert FILE and --tls-key FILE, or --insecure-listen to accept that`,
  );
}
