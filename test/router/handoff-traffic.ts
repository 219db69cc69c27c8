import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import WebSocket from 'ws';
import { type LoadReport, startLoad } from '../helpers/load.js';
import { type H2LoadReport, startH2Load } from './h2-load.js';

const BACKEND = new URL('../fixtures/handoff-backend.mjs', import.meta.url).pathname;

/**
 * A backend in its own process (`test/fixtures/handoff-backend.mjs`): `/slow` answers after 2 s, `/ws`
 * echoes WebSocket messages, anything else at once. `close` stops it by its pid.
 */
export async function handoffBackend(name: string): Promise<{ address: string; close: () => Promise<void> }> {
  const child = spawn(process.execPath, [BACKEND, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      out += c;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`backend ${name} exited with ${code} before listening`)));
  });
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface TrafficReport {
  load: LoadReport;
  /** Through the TLS door (absent without `tls`). */
  tls: LoadReport | undefined;
  /** HTTP/2 through the TLS door (absent without `h2`). */
  h2: H2LoadReport | undefined;
  slow: { ok: number; failed: number; errors: string[] };
  ws: { opened: number; closedByClient: number; cut: number; missedEchoes: number; errors: string[] };
}

export interface TrafficOptions {
  rps: number;
  slow: number;
  sockets: number;
  /** Also HTTP/1.1 over TLS (half keep-alive, half new connections and handshakes) through a TLS door. */
  tls?: { port: number; rps: number; host: string; ca: Buffer };
  /** Also HTTP/2 (one session at a time, a new one after GOAWAY) through the same TLS door. */
  h2?: { port: number; rps: number; host: string; ca: Buffer };
}

/**
 * Traffic through the proxy on `port`: `rps` requests per second (half keep-alive, half new connections),
 * `slow` 2-second requests in flight at all times, `sockets` WebSockets open at all times, each sending a
 * message every 200 ms (answered by the echo) and closed by the client after 0.5–2.5 s.
 */
export function startTraffic(port: number, opts: TrafficOptions = { rps: 500, slow: 8, sockets: 20 }) {
  const base = `http://127.0.0.1:${port}`;
  const load = startLoad(base, { rps: opts.rps, pool: 32 });
  const tls = opts.tls
    ? startLoad(`https://127.0.0.1:${opts.tls.port}`, {
        rps: opts.tls.rps,
        pool: 8,
        host: opts.tls.host,
        ca: opts.tls.ca,
      })
    : undefined;
  const h2 = opts.h2 ? startH2Load(opts.h2.port, opts.h2) : undefined;
  let stopped = false;
  const slow = { ok: 0, failed: 0, errors: [] as string[] };
  const ws = { opened: 0, closedByClient: 0, cut: 0, missedEchoes: 0, errors: [] as string[] };
  const slowSlot = async (): Promise<void> => {
    while (!stopped) {
      const r = await new Promise<string>((resolve) => {
        const req = httpGet(`${base}/slow`, { agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : `${res.statusCode} ${body}`));
          res.on('error', (e) => resolve(e.message));
        });
        req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
        req.on('error', (e) => resolve(e.message));
      });
      if (r === 'ok') slow.ok++;
      else {
        slow.failed++;
        if (slow.errors.length < 5) slow.errors.push(r);
      }
    }
  };
  const wsSlot = async (): Promise<void> => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const c = new WebSocket(`ws://127.0.0.1:${port}/ws`);
        let sent = 0;
        let echoed = 0;
        let closing = false;
        let timer: NodeJS.Timeout | undefined;
        const fail = (why: string): void => {
          if (ws.errors.length < 5) ws.errors.push(why);
        };
        c.on('open', () => {
          ws.opened++;
          timer = setInterval(() => {
            c.send(String(++sent));
          }, 200);
          setTimeout(
            () => {
              clearInterval(timer);
              // The last message's echo before closing: every message sent was answered.
              const until = Date.now() + 5000;
              const check = (): void => {
                if (echoed >= sent || Date.now() > until) {
                  ws.missedEchoes += sent - echoed;
                  closing = true;
                  c.close(1000);
                } else setTimeout(check, 20);
              };
              check();
            },
            500 + Math.random() * 2000,
          );
        });
        c.on('message', () => {
          echoed++;
        });
        c.on('error', (e) => fail(`websocket error: ${e.message}`));
        c.on('close', (code) => {
          clearInterval(timer);
          if (closing) ws.closedByClient++;
          else {
            ws.cut++;
            fail(`websocket closed by the other side (code ${code}) after ${echoed} echoes`);
          }
          resolve();
        });
      });
    }
  };
  const slots = [
    ...Array.from({ length: opts.slow }, slowSlot),
    ...Array.from({ length: opts.sockets }, wsSlot),
  ];
  return {
    load,
    tls,
    h2: h2?.report,
    slow,
    ws,
    async stop(): Promise<TrafficReport> {
      stopped = true;
      const report = await load.stop();
      const tlsReport = await tls?.stop();
      const h2Report = await h2?.stop();
      await Promise.all(slots);
      return { load: report, tls: tlsReport, h2: h2Report, slow, ws };
    },
  };
}

/** The proxy process trees of `dataDir` (from /proc): primaries and the workers whose parent they are. */
export function proxyTrees(dataDir: string): Array<{ pid: number; workers: number[] }> {
  const procs: Array<{ pid: number; ppid: number; argv: string[] }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      procs.push({ pid: Number(name), ppid: Number(fields[1]), argv });
    } catch {
      // gone meanwhile
    }
  }
  const primaries = procs.filter((p) => {
    const i = p.argv.indexOf('--data-dir');
    return p.argv.some((a) => a.endsWith('proxy/main.js')) && i > 0 && p.argv[i + 1] === dataDir;
  });
  return primaries.map((p) => ({
    pid: p.pid,
    workers: procs
      .filter((w) => w.ppid === p.pid && w.argv.some((a) => a.endsWith('proxy/worker.js')))
      .map((w) => w.pid),
  }));
}
