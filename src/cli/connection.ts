import { existsSync, readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { DEFAULT_API, dataPaths } from '../api/paths.js';
import { InputError } from '../core/errors.js';

/**
 * Where a client reaches a control plane and how it proves who it is. Everything that talks to an API
 * (the CLI's global flags, an `environments:` entry of baton.yaml) builds one of these, then an
 * ApiClient from it.
 */
export interface ApiConnection {
  /** `http://127.0.0.1:7607` or `https://host:7607`; a bare host:port means http. */
  url: string;
  token?: string | undefined;
  /** PEM file of the CA that signed the API's certificate (a private CA; public ones are trusted). */
  caFile?: string | undefined;
}

/** The CLI's defaults: --api / BATON_API, else what `baton serve` wrote into the data dir; the token likewise. */
export function localConnection(opts: {
  dataDir: string;
  api?: string | undefined;
  token?: string | undefined;
  caFile?: string | undefined;
}): ApiConnection {
  const paths = dataPaths(opts.dataDir);
  let url = opts.api;
  if (!url && existsSync(paths.api))
    url = (JSON.parse(readFileSync(paths.api, 'utf8')) as { url: string }).url;
  const token =
    opts.token ?? (existsSync(paths.token) ? readFileSync(paths.token, 'utf8').trim() : undefined);
  return { url: url ?? DEFAULT_API, token, caFile: opts.caFile };
}

export function normalUrl(url: string): string {
  return (/^https?:\/\//.test(url) ? url : `http://${url}`).replace(/\/$/, '');
}

/** An undici dispatcher trusting `caFile` (in addition to nothing else: a private CA pins the API). */
export function dispatcherFor(conn: ApiConnection): Agent | undefined {
  if (!conn.caFile) return undefined;
  let ca: Buffer;
  try {
    ca = readFileSync(conn.caFile);
  } catch (err) {
    throw new InputError(`--ca ${conn.caFile}: ${(err as Error).message}`);
  }
  return new Agent({ connect: { ca } });
}

const TLS_TRUST = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** What went wrong reaching `url`, in words a user can act on. */
export function unreachable(url: string, err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code && TLS_TRUST.has(cause.code))
    return `the control plane at ${url} presented a certificate this client does not trust (${cause.code}: ${cause.message}); give the CA that signed it with --ca FILE (env BATON_CA)`;
  if (cause?.code === 'ECONNRESET' && url.startsWith('http://'))
    return `cannot reach the control plane at ${url} (connection reset): if it serves HTTPS, use --api https://…`;
  return `cannot reach the control plane at ${url}${cause?.message ? ` (${cause.message})` : ''}: is \`baton serve\` running?`;
}
