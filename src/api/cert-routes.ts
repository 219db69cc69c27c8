import { sendJson } from './http.js';
import type { Handler, Route } from './routes.js';

/**
 * Automatic certificates (`baton certs`). A certificate belongs to a host, not to one service, and its
 * names may reveal services outside a scoped token's reach: so a viewer token scoped to every service.
 */
const list: Handler = async (ctx, { res }) =>
  sendJson(res, 200, { certificates: ctx.deps.certs?.list() ?? [] });

export const CERT_ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/v1\/certs$/, rule: { role: 'viewer', scope: 'global' }, handler: list },
];
