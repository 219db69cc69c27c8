import { BatonError, InputError } from '../core/errors.js';
import type { Rule } from './access.js';
import { sendJson } from './http.js';
import type { ApiContext, Handler, Route } from './routes.js';
import type { TokenBook } from './token-book.js';

/** `baton token create|list|revoke`: admin tokens scoped to every service only (no escalation). */
const rule: Rule = { role: 'admin', scope: 'global' };

function book(ctx: ApiContext): TokenBook {
  if (!ctx.tokens) throw new BatonError('UNAVAILABLE', 'this control plane keeps no named tokens');
  return ctx.tokens;
}

const list: Handler = async (ctx, { res }) => sendJson(res, 200, { tokens: await book(ctx).list() });

const create: Handler = async (ctx, { res, body, actor }) => {
  const { name, role, services, expiresInMs } = body;
  if (typeof name !== 'string') throw new InputError('body.name is required');
  if (typeof role !== 'string') throw new InputError('body.role is required');
  if (services !== undefined && !(Array.isArray(services) && services.every((s) => typeof s === 'string')))
    throw new InputError('body.services must be a list of names or globs');
  if (expiresInMs !== undefined && typeof expiresInMs !== 'number')
    throw new InputError('body.expiresInMs must be a number');
  const made = await book(ctx).create({
    name,
    role: role as never,
    services: services as string[] | undefined,
    expiresInMs,
  });
  await ctx.deps.repo.audit({
    actor,
    action: 'token:create',
    result: 'ok',
    message: `${made.token.name}: role ${made.token.role}, services ${made.token.services.join(',')}`,
  });
  // The only time the secret leaves the control plane.
  sendJson(res, 200, made);
};

const revoke: Handler = async (ctx, { res, params: [name], actor }) => {
  const token = await book(ctx).revoke(name!);
  await ctx.deps.repo.audit({ actor, action: 'token:revoke', result: 'ok', message: token.name });
  sendJson(res, 200, { ok: true, token });
};

export const TOKEN_ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/v1\/tokens$/, rule, handler: list },
  { method: 'POST', pattern: /^\/v1\/tokens$/, rule, handler: create },
  { method: 'DELETE', pattern: /^\/v1\/tokens\/([a-z][a-z0-9-]*)$/, rule, handler: revoke },
];
