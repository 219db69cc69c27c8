import { timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { AccessError, BatonError } from '../core/errors.js';
import { SessionBook, type SessionOptions } from '../dashboard/sessions.js';
import { handleUi } from '../dashboard/ui-routes.js';
import { ALL_SERVICES, type Principal, requireAllServices, requireRole, requireService } from './access.js';
import { AuthLimiter, type LimiterOptions } from './auth-limiter.js';
import { readJson, sendError } from './http.js';
import { type ApiContext, actorOf, ROUTES, type Route } from './routes.js';
import { LOCAL_ADMIN } from './token-book.js';

export interface ApiServerOptions {
  /** The data dir's token: the local admin. */
  localToken: string;
  /** PEM certificate and key: the API speaks HTTPS only. */
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  limiter?: LimiterOptions | undefined;
  /** Dashboard sessions (`/ui`): their lifetime. */
  sessions?: SessionOptions | undefined;
}

const LOCAL: Principal = { name: LOCAL_ADMIN, role: 'admin', services: ALL_SERVICES };

function sameSecret(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The caller's principal, or the AccessError that says why not: a bearer token, else a dashboard session. */
async function authenticate(
  ctx: ApiContext,
  req: IncomingMessage,
  localToken: string,
  sessions: SessionBook,
): Promise<Principal | AccessError> {
  const header = req.headers.authorization;
  if (!header?.startsWith('Bearer ')) {
    const fromSession = sessions.secretFor(req);
    if (fromSession === undefined)
      return new AccessError(
        'UNAUTHORIZED',
        'no bearer token (the CLI reads it from the data dir, or --token)',
      );
    return typeof fromSession === 'string' ? verifySecret(ctx, fromSession, localToken) : fromSession;
  }
  return verifySecret(ctx, header.slice(7).trim(), localToken);
}

async function verifySecret(
  ctx: ApiContext,
  secret: string,
  localToken: string,
): Promise<Principal | AccessError> {
  if (sameSecret(secret, localToken)) return LOCAL;
  const verdict = ctx.tokens ? await ctx.tokens.verify(secret) : ({ ok: false, reason: 'unknown' } as const);
  if (verdict.ok) return verdict.principal;
  return verdict.reason === 'expired'
    ? new AccessError('UNAUTHORIZED', `token ${verdict.token} has expired`, { token: verdict.token })
    : new AccessError('UNAUTHORIZED', 'wrong bearer token (unknown, revoked, or mistyped)');
}

/** Applies a route's rule; the `deployment` and `listing` scopes are finished by their handler. */
function authorize(rule: Route['rule'], p: Principal, what: string, service: unknown): void {
  if ('public' in rule) return;
  requireRole(p, rule.role, what);
  if (rule.scope === 'service' || (rule.scope === 'body' && typeof service === 'string'))
    requireService(p, service as string, what);
  else if (rule.scope === 'global') requireAllServices(p, what);
}

/**
 * The control plane's HTTP(S) API. Every route has a rule (src/api/routes.ts); all but /v1/health need
 * a token. Failed authentications are logged with the address and counted: too many from one address
 * within a minute and it is refused (429) until the minute ends.
 */
export function createApiServer(ctx: ApiContext, auth: string | ApiServerOptions): Server {
  const opts = typeof auth === 'string' ? { localToken: auth } : auth;
  const limiter = new AuthLimiter(opts.limiter);
  const sessions = new SessionBook(opts.sessions);
  const ui = {
    sessions,
    tls: Boolean(opts.tls),
    current: (secret: string) => verifySecret(ctx, secret, opts.localToken),
    // Signing in is an authentication like any other: logged, counted and rate limited per address.
    signIn: async (secret: string, req: IncomingMessage, res: ServerResponse) => {
      const address = req.socket.remoteAddress ?? 'unknown';
      const wait = limiter.blockedFor(address);
      if (wait > 0) {
        res.setHeader('retry-after', Math.ceil(wait / 1000));
        throw new AccessError('RATE_LIMITED', `too many failed authentications from ${address}; try later`);
      }
      const who = await verifySecret(ctx, secret, opts.localToken);
      if (who instanceof AccessError) {
        const failures = limiter.fail(address);
        ctx.deps.logger.warn(
          { address, path: '/ui/session', reason: who.message, failures },
          'dashboard sign-in failed',
        );
        throw who;
      }
      return who;
    },
  };
  const listener: RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://baton');
    const route = ROUTES.find((r) => r.method === req.method && r.pattern.test(url.pathname));
    const address = req.socket.remoteAddress ?? 'unknown';
    const handle = async () => {
      if (url.pathname === '/ui' || url.pathname.startsWith('/ui/')) return handleUi(ui, req, res, url);
      if (!route) {
        const known = ROUTES.some((r) => r.pattern.test(url.pathname));
        throw new BatonError(
          known ? 'BAD_INPUT' : 'NOT_FOUND',
          `${known ? 'method not allowed' : 'no such endpoint'}: ${req.method} ${url.pathname}`,
        );
      }
      let principal = LOCAL;
      if (!('public' in route.rule)) {
        const wait = limiter.blockedFor(address);
        if (wait > 0) {
          res.setHeader('retry-after', Math.ceil(wait / 1000));
          throw new AccessError('RATE_LIMITED', `too many failed authentications from ${address}; try later`);
        }
        const who = await authenticate(ctx, req, opts.localToken, sessions);
        if (who instanceof AccessError) {
          const failures = limiter.fail(address);
          ctx.deps.logger.warn(
            { address, path: url.pathname, reason: who.message, failures },
            'API authentication failed',
          );
          throw who;
        }
        principal = who;
      }
      const body = req.method === 'GET' ? {} : await readJson<Record<string, unknown>>(req);
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw new BatonError('BAD_INPUT', 'request body must be a JSON object', { exitCode: 2 });
      const params = route.pattern.exec(url.pathname)!.slice(1);
      try {
        const service = 'scope' in route.rule && route.rule.scope === 'body' ? body.service : params[0];
        authorize(route.rule, principal, `${req.method} ${url.pathname}`, service);
      } catch (err) {
        ctx.deps.logger.warn({ token: principal.name, address, path: url.pathname }, 'API request refused');
        throw err;
      }
      await route.handler(ctx, {
        req,
        res,
        params,
        url,
        body,
        principal,
        actor: actorOf(req, body, principal),
        // Long streams ask again now and then: a revoked or expired token, an ended session, stops them.
        stillAuthorized: async () =>
          !((await authenticate(ctx, req, opts.localToken, sessions)) instanceof AccessError),
      });
    };
    handle().catch((err: unknown) => {
      if (!(err instanceof BatonError))
        ctx.deps.logger.error({ err, path: url.pathname }, 'API request failed');
      sendError(res, err);
    });
  };
  return opts.tls
    ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener)
    : createServer(listener);
}
