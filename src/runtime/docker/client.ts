import { createRequire } from 'node:module';
import type Docker from 'dockerode';
import { BatonError, DriverError, UnavailableError } from '../../core/errors.js';

/** The Docker Engine endpoint: `DOCKER_HOST` (unix:// or tcp://) or the default socket. */
export function dockerEndpoint(host: string | undefined = process.env.DOCKER_HOST): string {
  return host && host.length > 0 ? host : 'unix:///var/run/docker.sock';
}

const require = createRequire(import.meta.url);

/** A dockerode client for `endpoint` (unix:///path or tcp://host:port). */
export function connectDocker(endpoint: string = dockerEndpoint()): Docker {
  // Loaded on first use (CommonJS, so the same module an import gives): dockerode brings gRPC, protobuf
  // and ssh2, which every `baton` command would otherwise load at start.
  const Docker = require('dockerode') as typeof import('dockerode');
  if (endpoint.startsWith('unix://')) return new Docker({ socketPath: endpoint.slice('unix://'.length) });
  const url = new URL(endpoint.includes('://') ? endpoint : `tcp://${endpoint}`);
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DriverError(
      'docker',
      `unsupported DOCKER_HOST ${endpoint}: use unix:///path or tcp://host:port`,
    );
  }
  return new Docker({
    host: url.hostname,
    port: Number(url.port || 2375),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
  });
}

/** What dockerode and node:net errors carry. */
interface VendorError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string } | null;
}

export const statusOf = (err: unknown): number | undefined => (err as VendorError | null)?.statusCode;

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'EPERM',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ETIMEDOUT',
]);

/** The daemon's own words when it answered, else the error's message. */
export function vendorMessage(err: unknown): string {
  const e = err as VendorError | null;
  const msg = e?.json?.message ?? e?.message ?? String(err);
  return msg.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

/**
 * Translates an error from the Engine API into Baton's errors, where it enters the driver:
 * an unreachable daemon is UnavailableError, anything else a DriverError saying what was being done.
 */
export function translate(err: unknown, doing: string, endpoint: string): BatonError {
  if (err instanceof BatonError) return err;
  const code = (err as VendorError | null)?.code;
  if (code && UNREACHABLE.has(code) && statusOf(err) === undefined) {
    const hint =
      code === 'EACCES' || code === 'EPERM'
        ? 'permission denied: run as root or add the user to the docker group'
        : 'is dockerd running?';
    return new UnavailableError(`docker daemon not reachable at ${endpoint} (${code}): ${hint}`, err);
  }
  return new DriverError('docker', `${doing}: ${vendorMessage(err)}`, err);
}

/** Runs `fn`, translating what it throws. */
export async function call<T>(endpoint: string, doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translate(err, doing, endpoint);
  }
}
