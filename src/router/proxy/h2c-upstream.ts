import { type ClientHttp2Session, connect } from 'node:http2';
import type { RouteLimits } from '../router.js';
import { H2_LIMITS } from './h2.js';

type Ready = (err: NodeJS.ErrnoException | undefined, session?: ClientHttp2Session) => void;

/**
 * A backend's HTTP/2 clear-text connection (`traffic.upstream: h2c`), spoken by node:http2 (nghttp2).
 * One session per backend (and proxy worker) carries the streams of every client: HTTP/2 frames each
 * stream apart by id, so unlike HTTP/1.1 a late or extra response cannot reach another client's request.
 * A session that fails, closes or gets GOAWAY is left to finish its streams; the next stream opens a new one.
 */
export class H2cUpstream {
  private session: ClientHttp2Session | undefined;
  private connecting: Ready[] | undefined;
  private readonly all = new Set<ClientHttp2Session>();
  private closed = false;

  constructor(
    private readonly origin: string,
    private readonly limits: () => RouteLimits,
  ) {}

  /** Calls `ready` with a connected session, or with the connection's error (nothing was sent). */
  get(ready: Ready): void {
    const s = this.session;
    if (s !== undefined && !s.closed && !s.destroyed) {
      ready(undefined, s);
      return;
    }
    if (this.connecting !== undefined) {
      this.connecting.push(ready);
      return;
    }
    if (this.closed) {
      ready(Object.assign(new Error('backend removed'), { code: 'ECONNREFUSED' }));
      return;
    }
    this.connecting = [ready];
    const session = connect(this.origin, {
      maxSessionMemory: H2_LIMITS.maxSessionMemory,
      settings: { enablePush: false, initialWindowSize: H2_LIMITS.initialWindowSize },
    });
    this.all.add(session);
    let settled = false;
    const done = (err: NodeJS.ErrnoException | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const waiting = this.connecting ?? [];
      this.connecting = undefined;
      if (err === undefined) this.session = session;
      for (const w of waiting) w(err, err === undefined ? session : undefined);
    };
    const timer = setTimeout(() => {
      session.destroy();
      done(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    }, this.limits().connectTimeoutMs);
    session.once('connect', () => {
      try {
        session.setLocalWindowSize(H2_LIMITS.connectionWindowSize);
      } catch {
        // Closed at once: its streams will fail on their own.
      }
      done(undefined);
    });
    const forget = () => {
      if (this.session === session) this.session = undefined;
    };
    // Errors reach the streams (and their exchanges); a failed connect, the waiting ones.
    session.on('error', (e: NodeJS.ErrnoException) => {
      forget();
      done(e);
    });
    session.once('goaway', forget);
    session.once('close', () => {
      forget();
      this.all.delete(session);
      done(Object.assign(new Error('connection closed'), { code: 'ECONNRESET' }));
    });
    // Idle sessions are not kept forever (the backend may be gone by then).
    session.setTimeout(IDLE_MS, () => {
      forget();
      session.close();
    });
    session.unref();
  }

  /** Closes every session, open streams included; later streams fail at once. */
  destroy(): void {
    this.closed = true;
    this.session = undefined;
    for (const s of this.all) s.destroy();
    this.all.clear();
  }
}

/** An idle upstream session is closed after this long (as for HTTP/1.1, upstream.ts). */
const IDLE_MS = 4000;
