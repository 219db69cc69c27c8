import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { MAINTENANCE_RETRY_AFTER_S } from '../validate.js';
import type { BackendEntry } from './backend.js';
import { Exchange, reply } from './exchange.js';
import { H2cExchange } from './h2c-exchange.js';
import { requestProblem } from './limits.js';
import type { DataPlane } from './plane.js';
import type { ServiceTable } from './service.js';
import { ANY, PREVIEW, type SplitPlan } from './split.js';

export { reply };

/** Proxies one HTTP request of `table`'s service to production backends (split between revisions). */
export function forward(
  table: ServiceTable,
  plane: DataPlane,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (refused(table, req, res)) return;
  const start = performance.now();
  const plan = table.split;
  let b: BackendEntry | undefined;
  let target = ANY;
  let sticky: SplitPlan | undefined;
  if (plan === undefined) b = table.pick(start, undefined);
  else ({ backend: b, target, sticky } = plan.choose(table, req.headers, start));
  if (b === undefined) {
    reply(res, 503, 'no-healthy-backend', `baton: no healthy backend for service ${table.service}\n`);
    return;
  }
  if (table.upstream === 'h2c') new H2cExchange(table, plane, req, res, start, target, sticky).send(b);
  else new Exchange(table, plane, req, res, start, target, sticky).send(b);
}

/** Proxies one request of the preview listener to the preview revision (kept out of revision counters). */
export function forwardPreview(
  table: ServiceTable,
  plane: DataPlane,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (refused(table, req, res)) return;
  const start = performance.now();
  const b = table.pickPreview(start, undefined);
  if (b === undefined) {
    reply(res, 503, 'no-preview', `baton: no preview revision for service ${table.service}\n`);
    return;
  }
  if (table.upstream === 'h2c') new H2cExchange(table, plane, req, res, start, PREVIEW, undefined).send(b);
  else new Exchange(table, plane, req, res, start, PREVIEW, undefined).send(b);
}

/** Answers a request the edge limits refuse (and closes the connection: its body is not read). */
function refused(table: ServiceTable, req: IncomingMessage, res: ServerResponse): boolean {
  const problem = requestProblem(req, table.limits);
  if (problem === undefined) return false;
  reply(res, problem[0], 'bad-request', `baton: ${problem[1]}\n`, true);
  return true;
}

/** The maintenance answer: 503, the page and `Retry-After`. */
export function maintenanceReply(table: ServiceTable, res: ServerResponse): void {
  const body = table.maintenanceBody;
  res.writeHead(503, {
    'content-type': `${body.trimStart().startsWith('<') ? 'text/html' : 'text/plain'}; charset=utf-8`,
    'content-length': Buffer.byteLength(body),
    'retry-after': String(MAINTENANCE_RETRY_AFTER_S),
    'x-baton-error': 'maintenance',
  });
  res.end(body);
}
