import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { BatonError, DriverError, type ErrorCode, UnavailableError } from '../../../core/errors.js';
import { isAlive } from '../../../runtime/process/proc.js';
import { type ProxyHealth, proxyHealth } from '../client.js';
import { proxyPaths } from '../paths.js';
import type { HandoffStep } from './predecessor.js';
import { checkProtocol, compareVersions, PROXY_VERSION } from './protocol.js';

export interface UpgradeOptions {
  /** The new proxy's entry script; defaults to this Baton's `router/proxy/main.js`. */
  entry?: string;
  /** Defaults to the node running this. */
  node?: string;
  /** How long the old proxy keeps what is open (default: the longest drain timeout of its routes). */
  drainTimeoutMs?: number;
  /** Also wait until the old proxy exited. */
  waitOld?: boolean;
  /** Fault injection for tests: see `HandoffRequest.killAt`. */
  killAt?: string;
}

export interface UpgradeResult {
  old: ProxyHealth;
  pid: number;
  /** True once the old proxy exited (only checked with `waitOld`). */
  oldExited: boolean;
}

/** This Baton's proxy entry (works from dist/ and from src/ under the test runner's loader). */
export function defaultProxyEntry(): string {
  return fileURLToPath(new URL('../main.js', import.meta.url));
}

/**
 * Replaces the running proxy of `dataDir` by this Baton's (or `entry`) without a gap: the old proxy starts
 * the new one and hands it its listening sockets (see handoff.ts). Refuses a proxy speaking another admin
 * protocol. Throws with the reason when the new proxy did not take over (the old one then keeps serving).
 */
export async function upgradeProxy(
  dataDir: string,
  opts: UpgradeOptions,
  onStep: (s: HandoffStep) => void,
): Promise<UpgradeResult> {
  const { socket } = proxyPaths(dataDir);
  const old = await proxyHealth(socket, 5000);
  if (!old) throw new UnavailableError(`no baton proxy answers on ${socket} (baton serve starts one)`);
  checkProtocol(old, socket);
  const body = {
    entry: opts.entry ?? defaultProxyEntry(),
    node: opts.node ?? process.execPath,
    ...(opts.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: opts.drainTimeoutMs }),
    ...(opts.killAt === undefined ? {} : { killAt: opts.killAt }),
  };
  const last = await streamHandoff(socket, body, onStep);
  let oldExited = false;
  if (opts.waitOld) {
    while (isAlive(old.pid)) await new Promise((r) => setTimeout(r, 100));
    oldExited = true;
  }
  return { old, pid: last, oldExited };
}

function streamHandoff(socket: string, body: unknown, onStep: (s: HandoffStep) => void): Promise<number> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        method: 'POST',
        path: '/handoff',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let buf = '';
        let settled = false;
        const onLine = (text: string): void => {
          if (text.trim() === '' || settled) return;
          let v: Record<string, unknown>;
          try {
            v = JSON.parse(text) as Record<string, unknown>;
          } catch {
            settled = true;
            reject(new DriverError('proxy', `handoff answered ${res.statusCode}: ${text.slice(0, 300)}`));
            return;
          }
          if (v.done === true) {
            settled = true;
            resolve(v.pid as number);
          } else if (v.error || v.code) {
            settled = true;
            const e = (v.error ?? v) as { code?: ErrorCode; message?: string };
            reject(new BatonError(e.code ?? 'DRIVER', e.message ?? 'handoff failed'));
          } else onStep(v as unknown as HandoffStep);
        };
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            onLine(buf.slice(0, i));
            buf = buf.slice(i + 1);
          }
        });
        res.on('end', () => {
          onLine(buf);
          if (!settled)
            reject(
              new DriverError(
                'proxy',
                'the old proxy closed the handoff answer before it finished; see proxy.log',
              ),
            );
        });
        res.on('error', (e) => reject(new DriverError('proxy', `handoff interrupted: ${e.message}`, e)));
      },
    );
    req.on('error', (e) => reject(new DriverError('proxy', `handoff interrupted: ${e.message}`, e)));
    req.end(payload);
  });
}

/**
 * For `baton serve` finding a proxy already running: one speaking another admin protocol is refused
 * (never driven blindly); one from an older Baton is handed over to this Baton's proxy. A handoff that
 * fails leaves the old proxy serving, and since it speaks the same protocol the control plane uses it.
 */
export async function adoptRunningProxy(
  dataDir: string,
  log: { info: (o: object, m: string) => void; error: (o: object, m: string) => void },
  entry?: string,
): Promise<void> {
  const { socket } = proxyPaths(dataDir);
  const running = await proxyHealth(socket, 5000);
  if (!running) return;
  checkProtocol(running, socket);
  if (compareVersions(running.version ?? '0.0.0', PROXY_VERSION) >= 0) return;
  log.info(
    { pid: running.pid, version: running.version, to: PROXY_VERSION },
    'the embedded proxy runs an older Baton: handing it over to this one',
  );
  try {
    const r = await upgradeProxy(dataDir, entry ? { entry } : {}, (s) =>
      log.info({ ...s }, `proxy handoff: ${s.step}`),
    );
    log.info({ pid: r.pid, old: running.pid }, 'the embedded proxy was handed over');
  } catch (e) {
    log.error({ err: e }, 'the proxy handoff failed; the running proxy keeps serving');
  }
}
