import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../api/access.js';
import { readJson, sendJson } from '../api/http.js';
import { AccessError, BatonError, InputError, NotFoundError } from '../core/errors.js';
import { asset } from './assets.js';
import { SESSION_COOKIE, type SessionBook } from './sessions.js';

/** Scripts and styles from this origin only: no inline script, nothing from elsewhere. */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export interface UiDeps {
  sessions: SessionBook;
  /** The token's principal, or why not (the API's own check, rate limit included). */
  signIn: (secret: string, req: IncomingMessage, res: ServerResponse) => Promise<Principal>;
  current: (secret: string) => Promise<Principal | AccessError>;
  tls: boolean;
}

function cookie(value: string, maxAgeS: number, tls: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${tls ? '; Secure' : ''}`;
}

const who = (p: Principal) => ({ name: p.name, role: p.role, services: p.services });

/** `/ui` (the page and its assets) and `/ui/session` (sign in, who am I, sign out). */
export async function handleUi(
  deps: UiDeps,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const path = url.pathname;
  if (path === '/ui/session') return session(deps, req, res);
  if (req.method !== 'GET' && req.method !== 'HEAD')
    throw new BatonError('BAD_INPUT', `method not allowed: ${req.method} ${path}`);
  if (path === '/ui') {
    res.writeHead(308, { location: '/ui/' });
    res.end();
    return;
  }
  const name = path === '/ui/' ? 'index.html' : path.startsWith('/ui/assets/') ? path.slice(11) : '';
  const file = name ? asset(name) : undefined;
  if (!file) throw new NotFoundError(`dashboard file ${path}`);
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': file.type,
    'content-length': file.body.length,
    'cache-control': name === 'index.html' ? 'no-store' : 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : file.body);
}

async function session(deps: UiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('cache-control', 'no-store');
  if (req.method === 'POST') {
    // A form of another site cannot send JSON: no signing a browser into someone else's session.
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
      throw new InputError('sign in with a JSON body {"token": "..."} (content-type: application/json)');
    const body = await readJson<{ token?: unknown }>(req);
    const secret = typeof body?.token === 'string' ? body.token.trim() : '';
    if (!secret) throw new InputError('paste an API token to sign in');
    const principal = await deps.signIn(secret, req, res);
    const s = deps.sessions.open(secret);
    res.setHeader('set-cookie', cookie(s.id, Math.floor(deps.sessions.ttlMs / 1000), deps.tls));
    sendJson(res, 200, {
      csrf: s.csrf,
      expiresAt: new Date(s.expiresAt).toISOString(),
      token: who(principal),
    });
    return;
  }
  const s = deps.sessions.find(req);
  if (req.method === 'DELETE') {
    if (s && !(s instanceof AccessError)) deps.sessions.close(s.id);
    res.setHeader('set-cookie', cookie('', 0, deps.tls));
    sendJson(res, 200, { ok: true });
    return;
  }
  if (req.method !== 'GET')
    throw new BatonError('BAD_INPUT', `method not allowed: ${req.method} /ui/session`);
  if (!s) throw new AccessError('UNAUTHORIZED', 'not signed in');
  if (s instanceof AccessError) throw s;
  const p = await deps.current(s.secret);
  if (p instanceof AccessError) {
    deps.sessions.close(s.id);
    throw p;
  }
  sendJson(res, 200, { csrf: s.csrf, expiresAt: new Date(s.expiresAt).toISOString(), token: who(p) });
}
