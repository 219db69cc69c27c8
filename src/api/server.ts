import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { BatonError } from '../core/errors.js';
import { sendError } from './http.js';
import { type ApiContext, ROUTES } from './routes.js';

function authorized(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** The control plane's HTTP API. Every route but /v1/health needs the bearer token. */
export function createApiServer(ctx: ApiContext, token: string): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://baton');
    const route = ROUTES.find(([method, pattern]) => method === req.method && pattern.test(url.pathname));
    const handle = async () => {
      if (!route) {
        const known = ROUTES.some(([, pattern]) => pattern.test(url.pathname));
        throw new BatonError(
          known ? 'BAD_INPUT' : 'NOT_FOUND',
          `${known ? 'method not allowed' : 'no such endpoint'}: ${req.method} ${url.pathname}`,
        );
      }
      if (url.pathname !== '/v1/health' && !authorized(req.headers.authorization, token)) {
        throw new BatonError(
          'UNAUTHORIZED',
          'missing or wrong bearer token (the CLI reads it from the data dir)',
        );
      }
      const params = route[1].exec(url.pathname)!.slice(1);
      await route[2](ctx, req, res, params, url);
    };
    handle().catch((err: unknown) => {
      if (!(err instanceof BatonError))
        ctx.deps.logger.error({ err, path: url.pathname }, 'API request failed');
      sendError(res, err);
    });
  });
}
