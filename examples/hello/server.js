// A tiny HTTP app to deploy with Baton. No dependencies, except `ws` (resolved from the repo root) for /ws.
//
// Env: PORT, HOST (default 127.0.0.1), VERSION, BOOT_DELAY_MS, FAIL_RATE, SLOW_MS, HEALTH=fail, CRASH_ON_BOOT=1.
// Routes: GET / (text), GET /version (JSON: version, pid, inFlight), GET /health, GET /slow?ms=N[&head][&key=K]
// (head: the response head at once, with X-Pid, the body after N ms — or as soon as GET /release?key=K
// reaches the same process), WebSocket /ws (echo).
// SIGTERM: stop accepting, let in-flight requests finish and open WebSockets close, then exit.
import http from 'node:http';

const version = process.env.VERSION ?? 'dev';
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
const bootDelay = Number(process.env.BOOT_DELAY_MS ?? 0);
const failRate = Number(process.env.FAIL_RATE ?? 0);
const slowMs = Number(process.env.SLOW_MS ?? 0);
const healthFails = process.env.HEALTH === 'fail';

const log = (msg) => console.log(`${new Date().toISOString()} hello ${version} pid ${process.pid}: ${msg}`);

if (process.env.CRASH_ON_BOOT === '1') {
  console.error(`hello ${version}: CRASH_ON_BOOT=1, exiting`);
  process.exit(1);
}

let closing = false;

const send = (res, status, body, type = 'text/plain; charset=utf-8') => {
  if (closing) res.setHeader('Connection', 'close');
  res.writeHead(status, { 'Content-Type': type, 'X-Version': version });
  res.end(body);
};

// Requests being answered, shown by /version (tests wait on it before a graceful stop).
let inFlight = 0;
// Slow requests a test can end early (/release?key=K): key -> finish.
const held = new Map();

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  inFlight++;
  res.on('close', () => inFlight--);
  // Once shutting down, a keep-alive connection that goes idle is closed right away.
  res.on('finish', () => {
    if (closing) server.closeIdleConnections();
  });
  // BASE_PATH: served under a path prefix by a proxy that passes it on (traffic.pathPrefix).
  const base = process.env.BASE_PATH;
  if (base && (url.pathname === base || url.pathname.startsWith(`${base}/`)))
    url.pathname = url.pathname.slice(base.length) || '/';
  switch (url.pathname) {
    case '/': {
      const answer = () =>
        Math.random() < failRate
          ? send(res, 500, `failure from ${version}\n`)
          : send(res, 200, `hello from ${version}\n`);
      if (slowMs > 0) setTimeout(answer, slowMs);
      else answer();
      return;
    }
    case '/version':
      return send(
        res,
        200,
        JSON.stringify({ version, pid: process.pid, inFlight: inFlight - 1 }),
        'application/json',
      );
    case '/health':
      return healthFails ? send(res, 500, 'unhealthy\n') : send(res, 200, 'ok\n');
    case '/slow': {
      const ms = Number(url.searchParams.get('ms') ?? 1000);
      const delay = Number.isFinite(ms) ? ms : 1000;
      if (url.searchParams.has('head')) {
        // The head goes out at once, the body after the delay: a client knows its request is being
        // answered, and by which process (tests use it to be sure a request is in flight before they act).
        res.writeHead(200, {
          'Content-Type': 'text/plain; charset=utf-8',
          'X-Version': version,
          'X-Pid': String(process.pid),
        });
        res.flushHeaders();
        const key = url.searchParams.get('key');
        const finish = () => {
          clearTimeout(timer);
          if (key) held.delete(key);
          res.end(`slow ${ms}ms from ${version}\n`);
        };
        const timer = setTimeout(finish, delay);
        if (key) {
          held.set(key, finish);
          res.on('close', () => {
            clearTimeout(timer);
            held.delete(key);
          });
        }
        return;
      }
      setTimeout(() => send(res, 200, `slow ${ms}ms from ${version}\n`), delay);
      return;
    }
    case '/release': {
      const finish = held.get(url.searchParams.get('key'));
      if (!finish) return send(res, 404, 'no such slow request\n');
      finish();
      return send(res, 200, 'released\n');
    }
    default:
      return send(res, 404, 'not found\n');
  }
});

const sockets = new Set();
try {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (closing || new URL(req.url ?? '/', 'http://localhost').pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => {
        sockets.delete(ws);
        maybeExit();
      });
      ws.on('message', (data, isBinary) => {
        ws.send(isBinary ? data : `${version}: ${data.toString()}`, { binary: isBinary });
      });
    });
  });
} catch {
  log('package ws not found: /ws disabled');
}

let serverClosed = false;
function maybeExit() {
  if (!closing || !serverClosed || sockets.size > 0) return;
  log('stopped');
  process.exit(0);
}

function shutdown(signal) {
  if (closing) return;
  closing = true;
  log(`${signal}: stopping (${sockets.size} websocket(s) open)`);
  server.close(() => {
    serverClosed = true;
    maybeExit();
  });
  server.closeIdleConnections();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

setTimeout(() => {
  server.listen(port, host, () => {
    const a = server.address();
    log(`listening on ${host}:${typeof a === 'object' && a ? a.port : port}`);
  });
}, bootDelay);
