// The soak's own load generator (bench/soak.mjs): several kinds of clients at once, each failure recorded
// with what it needs to be explained — when, which kind of connection, whether the socket was reused (and
// after how long idle), which proxy worker held the socket (from the opt-in X-Baton-Worker header of an
// earlier answer on it) and what the deploys were doing at that instant (`context()`).
//
// Kinds: `agent` (one Node http.Agent, keepAlive, maxSockets 64), `undici` (an undici Agent, keep-alive),
// `fresh` (a new TCP connection per request), `slow` (2 s requests, head first: GET /slow?ms=2000&head on
// the shared Node agent), `idle` (keep-alive Node agents with one socket each that wait 5–6.5 s between
// requests, then reuse the socket: past the old proxy keep-alive timeout, announced 5 s, closing at 6 s), `ws` (WebSocket sessions that
// echo a few messages and close cleanly, always some open).
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Agent as UndiciAgent, request as undiciRequest } from 'undici';
import WebSocket from 'ws';

const TIMEOUT_MS = 30_000;
const DEBUG = { 'x-baton-debug': 'worker' };

/** Socket -> { uses, worker, lastUsedAt }: what we know of each client connection. */
const sockets = new WeakMap();
const sockInfo = (s) => {
  let i = sockets.get(s);
  if (!i) {
    i = { uses: 0, worker: undefined, lastUsedAt: 0 };
    sockets.set(s, i);
  }
  return i;
};

// undici does not say which socket a request went out on; its diagnostics channel does (with our id header).
const undiciSocketById = new Map();
diagnostics.subscribe('undici:client:sendHeaders', ({ request, socket }) => {
  const h = request.headers;
  const at = Array.isArray(h)
    ? h.findIndex((x, i) => i % 2 === 0 && String(x).toLowerCase() === 'x-soak-id')
    : -1;
  if (at >= 0) undiciSocketById.set(String(h[at + 1]), socket);
});

/**
 * Starts the load. `targets`: { name: { url, paths: [..] } } (services; `slow` and `ws` go to the one
 * with `slow: true`). `rps`: requests per second of the agent/undici/fresh mix (40/30/30).
 * Returns { stop(): Promise<report> , report }.
 */
export function startSoakLoad({
  targets,
  rps,
  context,
  onFailure = () => {},
  idleClients = 24,
  idleMs = [5000, 6500],
  ws = 4,
  slowPerS,
}) {
  const t0 = performance.now();
  const names = Object.keys(targets);
  const slowTarget = Object.values(targets).find((t) => t.slow);
  const report = {
    sent: 0,
    ok: 0,
    failed: 0,
    byKind: {},
    reusedAfterIdle: 0,
    reusedAfterIdleMaxMs: 0,
    failures: [],
    wsSessions: 0,
    wsMessages: 0,
  };
  const kindStats = (k) => {
    report.byKind[k] ??= { sent: 0, ok: 0, failed: 0, reused: 0 };
    return report.byKind[k];
  };
  let stopping = false;
  const pending = new Set();
  const track = (p) => {
    pending.add(p);
    p.finally(() => pending.delete(p));
    return p;
  };

  const fail = (kind, target, path, info) => {
    report.failed++;
    kindStats(kind).failed++;
    const record = {
      at: new Date().toISOString(),
      tMs: Math.round(performance.now() - t0),
      kind,
      service: target,
      path,
      ...info,
      deploy: context(),
    };
    report.failures.push(record);
    onFailure(record);
  };
  const succeed = (kind, reused) => {
    report.ok++;
    const k = kindStats(kind);
    k.ok++;
    if (reused) k.reused++;
  };
  const count = (kind) => {
    report.sent++;
    kindStats(kind).sent++;
  };

  // --- node http (agent, fresh, slow, idle) ---
  const shared = new http.Agent({ keepAlive: true, maxSockets: 64 });
  function nodeGet(kind, target, path, agent) {
    count(kind);
    const url = new URL(path, targets[target].url);
    return new Promise((resolve) => {
      let socket;
      let idleFor;
      let head = false;
      const req = http.request(
        url,
        agent ? { agent, headers: DEBUG } : { agent: false, headers: { ...DEBUG, connection: 'close' } },
        (res) => {
          head = true;
          const info = sockInfo(res.socket);
          const w = res.headers['x-baton-worker'];
          if (w) info.worker = Number(w);
          res.resume();
          res.on('end', () => {
            info.lastUsedAt = performance.now();
            if (res.statusCode >= 200 && res.statusCode < 300) succeed(kind, req.reusedSocket);
            else
              fail(kind, target, path, {
                reused: req.reusedSocket,
                idleMs: idleFor,
                worker: info.worker,
                error: `HTTP ${res.statusCode}`,
              });
            resolve({ ok: true, reused: req.reusedSocket, idleFor });
          });
          res.on('error', (e) => done(e));
        },
      );
      const done = (e) => {
        const info = socket ? sockInfo(socket) : undefined;
        fail(kind, target, path, {
          reused: req.reusedSocket,
          idleMs: idleFor,
          worker: info?.worker,
          socketUses: info?.uses,
          // A reset before the head: the request went unanswered; after it: the response was cut.
          head,
          error: `${e.code ?? ''} ${e.message}`.trim(),
        });
        resolve({ ok: false });
      };
      req.on('socket', (s) => {
        socket = s;
        const info = sockInfo(s);
        if (info.uses > 0 && info.lastUsedAt) idleFor = Math.round(performance.now() - info.lastUsedAt);
        info.uses++;
      });
      req.setTimeout(TIMEOUT_MS, () =>
        req.destroy(Object.assign(new Error('no answer in 30 s'), { code: 'TIMEOUT' })),
      );
      req.on('error', done);
      req.end();
    });
  }

  // --- undici ---
  const ua = new UndiciAgent({ connections: 32 });
  let seq = 0;
  async function undiciGet(target, path) {
    count('undici');
    const id = String(++seq);
    const url = new URL(path, targets[target].url);
    try {
      const res = await undiciRequest(url, {
        dispatcher: ua,
        headers: { ...DEBUG, 'x-soak-id': id },
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
      await res.body.dump();
      const s = undiciSocketById.get(id);
      undiciSocketById.delete(id);
      const info = s ? sockInfo(s) : undefined;
      const reused = info ? info.uses > 0 : undefined;
      if (info) {
        info.uses++;
        const w = res.headers['x-baton-worker'];
        if (w) info.worker = Number(w);
      }
      if (res.statusCode >= 200 && res.statusCode < 300) succeed('undici', reused);
      else fail('undici', target, path, { reused, worker: info?.worker, error: `HTTP ${res.statusCode}` });
    } catch (e) {
      const s = undiciSocketById.get(id);
      undiciSocketById.delete(id);
      const info = s ? sockInfo(s) : undefined;
      fail('undici', target, path, {
        reused: info ? info.uses > 0 : undefined,
        worker: info?.worker,
        error: `${e.code ?? ''} ${e.message}`.trim(),
      });
    }
  }

  // --- the steady mix: agent 40%, undici 30%, fresh 30%, services in turn ---
  let n = 0;
  const fire = () => {
    const target = names[n % names.length];
    const paths = targets[target].paths;
    const path = paths[Math.floor(n / names.length) % paths.length];
    const r = n++ % 10;
    if (r < 4) track(nodeGet('agent', target, path, shared));
    else if (r < 7) track(undiciGet(target, path));
    else track(nodeGet('fresh', target, path, undefined));
  };
  const tickMs = 10;
  let credit = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    credit += ((now - last) / 1000) * rps;
    last = now;
    // Never a burst after a stall of the event loop: at most 100 ms of catch-up.
    credit = Math.min(credit, rps / 10);
    while (credit >= 1) {
      credit--;
      fire();
    }
  }, tickMs);

  // --- 2 s requests ---
  const slowRate = slowPerS ?? Math.max(1, rps / 200);
  const slowTimer = slowTarget
    ? setInterval(() => {
        const name = Object.keys(targets).find((k) => targets[k].slow);
        track(nodeGet('slow', name, '/slow?ms=2000&head', shared));
      }, 1000 / slowRate)
    : undefined;

  // --- idle keep-alive clients: one socket each, reused after idling just past 5 s ---
  const idleAgents = [];
  const loops = [];
  for (let i = 0; i < idleClients; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    idleAgents.push(agent);
    const target = names[i % names.length];
    const path = targets[target].paths[0];
    loops.push(
      (async () => {
        // Spread the clients over the first idle period so they don't all fire together.
        await sleep((idleMs[0] * i) / idleClients);
        while (!stopping) {
          const r = await nodeGet('idle', target, path, agent);
          if (r.ok && r.reused && r.idleFor !== undefined && r.idleFor > 5000) {
            report.reusedAfterIdle++;
            report.reusedAfterIdleMaxMs = Math.max(report.reusedAfterIdleMaxMs, r.idleFor);
          }
          if (stopping) break;
          await sleep(idleMs[0] + Math.random() * (idleMs[1] - idleMs[0]));
        }
      })(),
    );
  }

  // --- WebSocket sessions: open, 4 echoes 400 ms apart, clean close; `ws` of them at any time ---
  const wsUrl = slowTarget ? new URL('/ws', slowTarget.url.replace(/^http/, 'ws')) : undefined;
  const wsName = slowTarget ? Object.keys(targets).find((k) => targets[k].slow) : undefined;
  function wsSession() {
    return new Promise((resolve) => {
      count('ws');
      const sock = new WebSocket(wsUrl, { headers: DEBUG });
      let worker;
      let got = 0;
      let finished = false;
      let timer;
      const end = (error) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        if (error) {
          fail('ws', wsName, '/ws', { reused: false, worker, error, echoes: got });
          sock.terminate();
        } else succeed('ws', false);
        resolve();
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => end(`no echo within 10 s (after ${got})`), 10_000);
      };
      sock.on('upgrade', (res) => {
        const w = res.headers['x-baton-worker'];
        if (w) worker = Number(w);
      });
      sock.on('open', () => {
        report.wsSessions++;
        sock.send('m0');
        arm();
      });
      sock.on('message', () => {
        got++;
        report.wsMessages++;
        if (got === 4) {
          clearTimeout(timer);
          sock.close(1000);
          timer = setTimeout(() => end('close handshake not answered within 10 s'), 10_000);
          return;
        }
        arm();
        setTimeout(() => sock.readyState === WebSocket.OPEN && sock.send(`m${got}`), 400);
      });
      sock.on('close', (code) => {
        if (got === 4 && (code === 1000 || code === 1005)) end();
        else end(`closed with ${code} after ${got} echo(es)`);
      });
      sock.on('error', (e) => end(`${e.code ?? ''} ${e.message}`.trim()));
      sock.on('unexpected-response', (_req, res) => end(`HTTP ${res.statusCode} to the upgrade`));
    });
  }
  if (wsUrl)
    for (let i = 0; i < ws; i++)
      loops.push(
        (async () => {
          await sleep(i * 300);
          while (!stopping) await wsSession();
        })(),
      );

  return {
    report,
    /** Stops sending; resolves with the report once every request sent has ended. */
    async stop() {
      stopping = true;
      clearInterval(ticker);
      if (slowTimer) clearInterval(slowTimer);
      await Promise.all(loops);
      while (pending.size > 0) await Promise.allSettled([...pending]);
      shared.destroy();
      for (const a of idleAgents) a.destroy();
      await ua.close();
      return report;
    },
  };
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
