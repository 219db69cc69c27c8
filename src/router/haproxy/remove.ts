import { DriverError } from '../../core/errors.js';
import { type Fleet, NO_SUCH_SERVER } from './fleet.js';
import { nameOf } from './names.js';
import type { RouteRecord, ServerRecord } from './record.js';

const POLL_MS = 100;
const STILL_BUSY = /connections|queue|still/i;

/**
 * MAINT, close open sessions (`shutdown sessions server`), then `del server` — retried while HAProxy
 * still counts connections (idle pooled ones included) until `timeoutMs`. Gone servers are fine. A
 * `server-template` slot is not deleted: in MAINT it is free for the next server.
 */
export async function removeServers(
  fleet: Fleet,
  r: RouteRecord,
  servers: ServerRecord[],
  timeoutMs: number,
): Promise<void> {
  if (servers.length === 0) return;
  const names = servers.map((s) => `${r.backend}/${nameOf(s)}`);
  const stop = names.flatMap((n) => [
    { text: `set server ${n} state maint`, tolerate: NO_SUCH_SERVER },
    { text: `shutdown sessions server ${n}`, tolerate: NO_SUCH_SERVER },
  ]);
  await fleet.runAll(stop);
  const dynamic = servers.filter((s) => !s.slot).map((s) => `${r.backend}/${nameOf(s)}`);
  await Promise.all(
    fleet.sockets.map(async (socket) => {
      const deadline = Date.now() + timeoutMs;
      let left = dynamic;
      while (left.length > 0) {
        const answers = await fleet.run(
          socket,
          left.map((n) => ({ text: `del server ${n}` })),
          true,
        );
        const busy = left.filter((_, i) => {
          const a = answers[i] ?? '';
          return !(a === 'Server deleted.' || NO_SUCH_SERVER.test(a)) && STILL_BUSY.test(a);
        });
        answers.forEach((a, i) => {
          if (a !== 'Server deleted.' && !NO_SUCH_SERVER.test(a) && !STILL_BUSY.test(a))
            throw new DriverError('haproxy', `${socket}: "del server ${left[i]}" failed: ${a}`);
        });
        if (busy.length > 0 && Date.now() > deadline)
          throw new DriverError(
            'haproxy',
            `${socket}: ${busy.join(', ')} still ha${busy.length > 1 ? 've' : 's'} connections after ${timeoutMs} ms: ${answers.find((a) => STILL_BUSY.test(a))}`,
          );
        left = busy;
        if (left.length > 0) await new Promise((res) => setTimeout(res, POLL_MS));
      }
    }),
  );
}
