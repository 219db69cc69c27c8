// Samples the kernel's accept queue of listening sockets with `ss -Hltn` (netlink, LISTEN sockets only:
// reading /proc/net/tcp would walk every TIME-WAIT socket a soak leaves behind, tens of thousands, and cost
// the load generator most of a core). For a LISTEN socket, Recv-Q is the number of connections that
// completed the handshake and wait for accept(). A queue at its limit means the server (the proxy) stopped
// accepting fast enough: the kernel then drops handshakes, and clients see connect timeouts or resets.
// Used by the soak to tell overload from bugs.
import { execFile } from 'node:child_process';

function queues() {
  return new Promise((resolve) => {
    execFile('ss', ['-Hltn'], { timeout: 2000 }, (err, stdout) => {
      const out = new Map();
      if (err) return resolve(out);
      for (const line of stdout.split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f.length < 4) continue;
        const port = Number(f[3].slice(f[3].lastIndexOf(':') + 1));
        out.set(port, Math.max(out.get(port) ?? 0, Number(f[1])));
      }
      resolve(out);
    });
  });
}

/**
 * Samples the accept queue of `ports` (name -> port) every `everyMs`. `stats()` gives, per name, the
 * longest queue seen and the times (ms since start) when it was longer than `warnAt`.
 */
export function watchAcceptQueues(
  ports,
  { everyMs = 1000, warnAt = 128, now = () => performance.now() } = {},
) {
  const byPort = new Map(Object.entries(ports).map(([name, port]) => [port, name]));
  const stats = Object.fromEntries(Object.keys(ports).map((n) => [n, { max: 0, longAt: [] }]));
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    const seen = await queues();
    busy = false;
    for (const [port, name] of byPort) {
      const q = seen.get(port);
      if (q === undefined) continue;
      const s = stats[name];
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
