import { createServer } from 'node:net';

// Ports a test names in advance (a service's `listen:`, a NATS route, a registry) are picked below the
// kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768–60999 by default). A port the OS hands out
// for port 0 can be handed out again the moment it is released — to an instance started by a test running
// beside this one, or to an outgoing connection — and the deploy that names it then fails with "already in
// use". Ports below the range are only ever taken by someone binding them by number.
const LOW = 10_000;
const HIGH = 32_767;

function tryBind(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/** A port free on 127.0.0.1 now, outside the range the OS picks ports from. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (await tryBind(port)) return port;
  }
  throw new Error(`no free port found between ${LOW} and ${HIGH} after 200 tries`);
}
