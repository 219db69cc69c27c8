import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type SecureServerOptions,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import { takeStreams } from './h2-stream.js';

/**
 * HTTP/2 limits of a TLS listener (docs/http2.md lists them). A client that goes past one gets the
 * protocol's answer from nghttp2 (node:http2), for its stream or its connection only:
 * - a stream beyond `maxConcurrentStreams` is refused (RST_STREAM REFUSED_STREAM, safe to retry);
 * - a header list larger than `maxHeaderListSize` resets that stream;
 * - DATA beyond a flow-control window is a connection error (GOAWAY FLOW_CONTROL_ERROR);
 * - a session whose buffered frames pass `maxSessionMemory` MB is refused new streams (ENHANCE_YOUR_CALM).
 */
export const H2_LIMITS = {
  /** nghttp2's and HAProxy's default (`tune.h2.max-concurrent-streams`). */
  maxConcurrentStreams: 100,
  /** The same bound as an HTTP/1.1 request head (limits.ts, MAX_HEAD_BYTES). */
  maxHeaderListSize: 16 * 1024,
  /**
   * Per-stream receive window: the protocol's default. With a request body, a stream holds at most this
   * much unread (the proxy reads only as fast as the instance takes it: backpressure end to end).
   */
  initialWindowSize: 65_535,
  /** Connection receive window, shared by its streams: so one slow stream does not stop the others. */
  connectionWindowSize: 1024 * 1024,
  /** Node's default: megabytes of frames a session may hold buffered. */
  maxSessionMemory: 10,
} as const;

/** Protocols offered in the TLS handshake, preferred first. */
export const ALPN_H2 = ['h2', 'http/1.1'];

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;

/** Whether a request came over HTTP/2 (node's compatibility objects carry its stream). */
export function isH2(req: IncomingMessage): boolean {
  return (req as unknown as Http2ServerRequest).stream !== undefined;
}

/** Whether a response goes out over HTTP/2 (no Connection header, no reason phrase there). */
export function isH2Response(res: ServerResponse): boolean {
  return (res as unknown as Http2ServerResponse).stream !== undefined;
}

/** The client connection of a request: its TLS socket, whether it speaks HTTP/1.1 or HTTP/2. */
export function downstreamSocket(req: IncomingMessage): Socket {
  const stream = (req as unknown as Http2ServerRequest).stream;
  return stream === undefined ? req.socket : (stream.session?.socket as Socket);
}

/** An HTTP/2 TLS listener that also speaks HTTP/1.1 (ALPN), with its open HTTP/2 sessions. */
export interface H2Listener {
  server: Http2SecureServer;
  sessions: Set<Http2Session>;
  /** Client sockets (either protocol), for the last cut at close. */
  sockets: Set<Socket>;
}

/**
 * A TLS listener that offers `h2` and `http/1.1`. Both arrive at `handler` as request/response pairs
 * (node's compatibility API for HTTP/2), so routing, splits, holds and counters are those of HTTP/1.1.
 * HTTP/2 sessions close after `idleMs` without a frame, gracefully (GOAWAY: open streams finish).
 */
export function createH2Listener(
  options: SecureServerOptions,
  idleMs: () => number,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  /** Takes an HTTP/2 stream before node makes its compatibility objects (h2-stream.ts); false: not taken. */
  fast?: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, raw: string[]) => boolean,
): H2Listener {
  const server = createSecureServer(
    {
      ...options,
      allowHTTP1: true,
      maxSessionMemory: H2_LIMITS.maxSessionMemory,
      settings: {
        maxConcurrentStreams: H2_LIMITS.maxConcurrentStreams,
        maxHeaderListSize: H2_LIMITS.maxHeaderListSize,
        initialWindowSize: H2_LIMITS.initialWindowSize,
        enablePush: false,
      },
    },
    handler as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  );
  if (fast) takeStreams(server, fast);
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // A protocol error concerns this client only; nghttp2 has already answered it (GOAWAY or RST_STREAM).
    session.on('error', () => {});
    session.once('connect', () => {
      try {
        session.setLocalWindowSize(H2_LIMITS.connectionWindowSize);
      } catch {
        // The session closed before its settings went out.
      }
    });
    session.setTimeout(idleMs(), () => {
      if (session.closed) return;
      session.close();
    });
  });
  server.on('sessionError', () => {});
  return { server, sessions, sockets };
}

/**
 * Stops accepting connections; HTTP/2 sessions get GOAWAY (their open streams finish), idle HTTP/1.1
 * connections close now and busy ones when their request ends; anything left after `graceMs` is cut.
 */
export function closeH2Listener(l: H2Listener, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => cutH2Listener(l), graceMs);
    timer.unref();
    l.server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    for (const s of l.sessions) if (!s.closed) s.close();
    for (const s of l.sockets) {
      // An HTTP/1.1 socket with no response in progress is idle (node sets `_httpMessage` per response).
      const h1 = s as Socket & { _httpMessage?: unknown; alpnProtocol?: string | false };
      if (h1.alpnProtocol !== 'h2' && !h1._httpMessage) s.destroy();
    }
  });
}

/** Cuts every connection of the listener at once, HTTP/2 sessions and HTTP/1.1 sockets alike. */
export function cutH2Listener(l: H2Listener): void {
  for (const s of l.sessions) s.destroy();
  for (const s of l.sockets) s.destroy();
}
