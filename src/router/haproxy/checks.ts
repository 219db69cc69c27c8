import type { Check } from '../../core/check.js';
import { BatonError } from '../../core/errors.js';
import type { HaproxyRouterSpec } from '../../spec/router.js';
import { reloadCheck } from './reload-checks.js';
import { runBatch } from './socket.js';
import { parseInfo } from './stat.js';

/**
 * What `router: haproxy` services need, per stats socket: HAProxy answering (`show info`), the socket at
 * `level admin`, each service's backend declared, and what makes reloads keep Baton's servers
 * (`reloadCheck`). The admin level and the backend are both read
 * from one harmless command: `del server <backend>/<a name Baton never uses>` answers "No such server"
 * at admin level, "Permission denied" below it, and "No such backend" when the backend is missing.
 */
export async function haproxyChecks(
  services: Array<{ name: string; router: HaproxyRouterSpec }>,
): Promise<Check[]> {
  const checks: Check[] = [];
  const sockets = [...new Set(services.flatMap((s) => s.router.sockets))];
  for (const socket of sockets) {
    const name = `haproxy ${socket}`;
    let info: Record<string, string>;
    try {
      info = parseInfo((await runBatch(socket, ['show info'], 3000))[0] ?? '');
    } catch (err) {
      checks.push({
        name,
        status: 'fail',
        detail: err instanceof BatonError ? err.message : String(err),
        fix: `start HAProxy with "stats socket ${socket} level admin" in its global section, and let this user open it (mode/user/group)`,
      });
      continue;
    }
    checks.push({ name, status: 'ok', detail: `HAProxy ${info.Version ?? '?'} (pid ${info.Pid ?? '?'})` });
    for (const s of services.filter((x) => x.router.sockets.includes(socket))) {
      const backend = s.router.backend ?? s.name;
      const [answer = ''] = await runBatch(socket, [`del server ${backend}/baton-doctor-probe`], 3000).catch(
        (e: Error) => [e.message],
      );
      const what = `backend ${backend} of ${s.name} on ${socket}`;
      if (/^No such server/.test(answer)) {
        checks.push({ name: what, status: 'ok', detail: 'declared; the socket has level admin' });
        checks.push(
          await reloadCheck(socket, s.name, backend, s.router.serverStateFile).catch(
            (e: Error): Check => ({
              name: `reloads of backend ${backend}`,
              status: 'fail',
              detail: e.message,
            }),
          ),
        );
      } else if (/Permission denied/i.test(answer))
        checks.push({
          name: what,
          status: 'fail',
          detail: 'the stats socket is not at level admin: Baton cannot add or remove servers',
          fix: `stats socket ${socket} level admin`,
        });
      else if (/No such backend/i.test(answer))
        checks.push({
          name: what,
          status: 'fail',
          detail: `HAProxy has no backend "${backend}"`,
          fix: `declare "backend ${backend}" with "balance roundrobin" in haproxy.cfg and reload, or set traffic.router.backend`,
        });
      else checks.push({ name: what, status: 'fail', detail: `unexpected answer: ${answer.slice(0, 200)}` });
    }
  }
  return checks;
}
