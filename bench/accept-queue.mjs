// Samples the kernel's accept queue of listening sockets (Linux /proc/net/tcp{,6}: for a socket in LISTEN
// state, rx_queue is the number of connections that completed the handshake and wait for accept()).
// A queue at its limit means the server (the proxy) stopped accepting fast enough: the kernel then drops
// handshakes, and clients see connect timeouts or resets. Used by the soak to tell overload from bugs.
import { readFileSync } from 'node:fs';

const LISTEN = '0A';

function queues(ports) {
  const out = new Map();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5 || f[3] !== LISTEN) continue;
      const port = Number.parseInt(f[1].split(':')[1], 16);
      if (!ports.has(port)) continue;
      const rx = Number.parseInt(f[4].split(':')[1], 16);
      out.set(port, Math.max(out.get(port) ?? 0, rx));
    }
  }
  return out;
}

/**
 * Samples the accept queue of `ports` (name -> port) every `everyMs`. `stats()` gives, per name, the
 * longest queue seen and the times (ms since start) when it was longer than `warnAt`.
 */
export function watchAcceptQueues(
  ports,
  { everyMs = 250, warnAt = 128, now = () => performance.now() } = {},
) {
  const byPort = new Map(Object.entries(ports).map(([name, port]) => [port, name]));
  const stats = Object.fromEntries(Object.keys(ports).map((n) => [n, { max: 0, longAt: [] }]));
  const timer = setInterval(() => {
    for (const [port, q] of queues(new Set(byPort.keys()))) {
      const s = stats[byPort.get(port)];
      if (q > s.max) s.max = q;
      if (q > warnAt && s.longAt.length < 100) s.longAt.push(Math.round(now()));
    }
  }, everyMs);
  timer.unref();
  return {
    stats: () => stats,
    stop: () => clearInterval(timer),
  };
}
