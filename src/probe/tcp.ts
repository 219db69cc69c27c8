import net from 'node:net';
import { describeNetError } from './errors.js';

/** Healthy when a TCP connection opens. Resolves with a short detail; rejects only on abort. */
export function tcpProbe(
  target: { host: string; port: number },
  signal: AbortSignal,
): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const onAbort = () => {
      socket.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (result: { ok: boolean; detail: string }) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    socket.on('connect', () => done({ ok: true, detail: `TCP connect to ${target.host}:${target.port}` }));
    socket.on('error', (err) => done({ ok: false, detail: describeNetError(err) }));
  });
}
