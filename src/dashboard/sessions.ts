import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AccessError } from '../core/errors.js';

export const SESSION_COOKIE = 'baton_session';
export const CSRF_HEADER = 'x-baton-csrf';
const DEFAULT_TTL_MS = 8 * 3600_000;
const MAX_SESSIONS = 10_000;

interface Session {
  /** The token it was opened with, kept in memory only: every request re-checks it (revoked, expired). */
  secret: string;
  csrf: string;
  expiresAt: number;
}

export interface SessionOptions {
  ttlMs?: number | undefined;
  now?: () => number;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Dashboard sessions: signing in with a token opens one, named by a random id in an HttpOnly,
 * SameSite=Strict cookie. Requests that change something must also carry the session's CSRF token in
 * a header (a page of another origin can make the browser send the cookie, never read the token).
 * Sessions live in memory: a control plane restart signs everyone out.
 */
export class SessionBook {
  private readonly sessions = new Map<string, Session>();
  readonly ttlMs: number;
  private readonly now: () => number;

  constructor(opts: SessionOptions = {}) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.now = opts.now ?? Date.now;
  }

  open(secret: string): { id: string; csrf: string; expiresAt: number } {
    if (this.sessions.size >= MAX_SESSIONS) this.prune();
    const id = randomBytes(32).toString('base64url');
    const session = {
      secret,
      csrf: randomBytes(32).toString('base64url'),
      expiresAt: this.now() + this.ttlMs,
    };
    this.sessions.set(id, session);
    return { id, csrf: session.csrf, expiresAt: session.expiresAt };
  }

  close(id: string): void {
    this.sessions.delete(id);
  }

  /** The session a request's cookie names, or undefined when it has none; expired ones are an AccessError. */
  find(req: IncomingMessage): ({ id: string } & Session) | AccessError | undefined {
    const id = cookieValue(req, SESSION_COOKIE);
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s)
      return new AccessError(
        'UNAUTHORIZED',
        'the dashboard session is unknown (signed out, or the control plane restarted): sign in again',
      );
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return new AccessError('UNAUTHORIZED', 'the dashboard session has expired: sign in again');
    }
    return { id, ...s };
  }

  /**
   * The token a cookie-authenticated request stands for. Anything but GET/HEAD must carry the
   * session's CSRF token in the `x-baton-csrf` header, compared in constant time.
   */
  secretFor(req: IncomingMessage): string | AccessError | undefined {
    const s = this.find(req);
    if (!s || s instanceof AccessError) return s;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const given = req.headers[CSRF_HEADER];
      if (typeof given !== 'string' || !same(given, s.csrf))
        return new AccessError(
          'FORBIDDEN',
          `missing or wrong ${CSRF_HEADER} header: request refused (CSRF protection)`,
        );
    }
    return s.secret;
  }

  private prune(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
    // Still full: the oldest go (a Map keeps insertion order).
    for (const id of this.sessions.keys()) {
      if (this.sessions.size < MAX_SESSIONS) break;
      this.sessions.delete(id);
    }
  }
}
