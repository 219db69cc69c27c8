import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { SecureContext } from 'node:tls';
import { DriverError } from '../../core/errors.js';
import { acceptOnMoreHandles } from './accept-handles.js';
import { reply } from './exchange.js';
import { forward } from './forward.js';
import { forwardsLean, onRequest, onUpgrade } from './front.js';
import { ALPN_H2, closeH2Listener, createH2Listener, cutH2Listener, type H2Listener } from './h2.js';
import { asRequest, asResponse, H2StreamRequest, H2StreamResponse } from './h2-stream.js';
import { forgetInherited, listenTarget } from './handoff/inherit.js';
import { ListenerCounters } from './histogram.js';
import { closeOnlyWhenIdle, setKeepAlive } from './keep-alive.js';
import { clientErrorStatus, edgeServerOptions, LISTEN_BACKLOG } from './limits.js';
import { closeListener, countConnections } from './listener.js';
import { normalHost, pick, wildcardMatches } from './match.js';
import type { DataPlane } from './plane.js';
import type { ServiceTable } from './service.js';
import { rawReply } from './upgrade.js';

/** Protocols offered in the TLS handshake: HTTP/2 first, HTTP/1.1 (see h2.ts). */
export const ALPN = ALPN_H2;

const NOT_FOUND = 'Not Found\n';

/** What a listener answers before routing: ACME HTTP-01 and redirects (the proxy's HTTP listener). */
export interface HttpDuty {
  /** An answer given (true), or nothing to do with this request (false). */
  answer(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * One listening address of the proxy and the services that share it (by host and path prefix, see
 * `match.ts`). Plain or TLS for all its services; TLS picks the certificate per server name (SNI).
 * Connection-level settings (head timeout, keep-alive) follow the service that last changed them.
 */
export class Door {
  readonly tables = new Set<ServiceTable>();
  server: Server | undefined;
  /** The TLS listener's HTTP/2 side (its sessions), when TLS. */
  private h2: H2Listener | undefined;
  private keepAliveMs = 0;
  /** The certificate the listener serves by default (as loaded when it was made the default). */
  private defaultContext: SecureContext | undefined;
  /** Set when this address is also the proxy's HTTP listener. */
  duty: HttpDuty | undefined;
  /** This listener's connections and handshakes (the services on it report them). */
  readonly counters = new ListenerCounters();

  constructor(
    readonly listen: string,
    readonly tls: boolean,
    private readonly plane: DataPlane,
  ) {}

  /** The service a request goes to (undefined: 404). */
  route(req: IncomingMessage): ServiceTable | undefined {
    if (this.tables.size === 1) {
      // The common case of one service on its own listener: no hosts, every path.
      const only = this.tables.values().next().value as ServiceTable;
      if (only.hosts.length === 0 && only.pathPrefix === '/') return only;
    }
    // HTTP/2 names the host in `:authority` (a Host header is allowed too, and then wins).
    return pick(
      this.tables,
      req.headers.host ?? (req.headers[':authority'] as string | undefined),
      req.url ?? '/',
    );
  }

  private request(req: IncomingMessage, res: ServerResponse): void {
    if (this.duty?.answer(req, res)) return;
    const table = this.route(req);
    if (table) onRequest(table, this.plane, req, res);
    else reply(res, 404, 'no-route', NOT_FOUND);
  }

  /**
   * An HTTP/2 stream taken before node makes its compatibility objects: a request without a body that
   * its service forwards now. False leaves it to `request` (through node's objects).
   */
  private stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, raw: string[]): boolean {
    if (this.duty !== undefined || !stream.endAfterHeaders) return false;
    if (headers.expect !== undefined || headers[':method'] === 'CONNECT') return false;
    const req = asRequest(new H2StreamRequest(stream, headers, raw));
    const table = this.route(req);
    if (table === undefined || !forwardsLean(table, headers)) return false;
    forward(table, this.plane, req, asResponse(new H2StreamResponse(stream)));
    return true;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const table = this.route(req);
    if (table) onUpgrade(table, this.plane, req, socket, head);
    else rawReply(socket, '404 Not Found', 'no-route', NOT_FOUND);
  }

  /** The certificate for a TLS server name: its service's, else any that names it. */
  secureContext(servername: string): SecureContext | undefined {
    const host = normalHost(servername);
    let named: ServiceTable | undefined;
    for (const t of this.tables) {
      if (t.hosts.includes(host)) named = t;
      else if (named === undefined && t.hosts.some((h) => wildcardMatches(h, host))) named = t;
    }
    const covering = (t: ServiceTable | undefined) =>
      t?.certs.find((c) => c.context && c.covers(host))?.context;
    const any = (t: ServiceTable | undefined) => t?.certs.find((c) => c.context)?.context;
    const found = covering(named);
    if (found) return found;
    for (const t of this.tables) {
      const c = covering(t);
      if (c) return c;
    }
    // A name no certificate covers still gets one (the client decides): its service's, the default's,
    // An unknown name gets 404 over TLS, under the first certificate of the listener.
    const fallback = named ?? [...this.tables].find((t) => t.hosts.length === 0);
    return any(fallback) ?? [...this.tables].map(any).find((c) => c !== undefined);
  }

  /** Opens the listener; rejects with a clear error when the address cannot be had. */
  open(first: ServiceTable | undefined, what: string): Promise<void> {
    const limits = first?.limits;
    const edge = limits ? edgeServerOptions(limits) : {};
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.request(req, res);
    if (first) this.keepAliveMs = first.keepAliveTimeoutMs;
    this.h2 = this.tls
      ? createH2Listener(
          {
            ...edge,
            SNICallback: (name, cb) => {
              const ctx = this.secureContext(name);
              // The default certificate needs no answer: node then leaves OpenSSL's connection as it is,
              // where an answer installs the certificate and key again (about 3 % of a handshake's CPU).
              if (ctx) cb(null, ctx === this.defaultContext ? undefined : ctx);
              else cb(new Error(`no certificate for ${name}`));
            },
          },
          () => this.keepAliveMs,
          handler,
          (stream, headers, raw) => this.stream(stream, headers, raw),
        )
      : undefined;
    const server: Server = this.h2 ? (this.h2.server as unknown as Server) : createServer(edge, handler);
    server.maxHeadersCount = 0;
    if (first) setKeepAlive(server, first.keepAliveTimeoutMs);
    closeOnlyWhenIdle(server);
    server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (socket.writable && !socket.destroyed)
        socket.end(
          `HTTP/1.1 ${clientErrorStatus(err.code)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
        );
      else socket.destroy();
    });
    countConnections(server, this.counters);
    server.on('secureConnection', () => {
      this.counters.handshakes++;
    });
    // A failed handshake (no certificate for the name, a scanner) concerns that connection only.
    server.on('tlsClientError', (_e: Error, socket: Duplex) => {
      this.counters.handshakeErrors++;
      socket.destroy();
    });
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        const why =
          e.code === 'EADDRINUSE'
            ? `listen address ${this.listen} for ${what} is already in use by another process`
            : e.code === 'EACCES'
              ? `cannot listen on ${this.listen} for ${what}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; choose another address)`
              : `cannot listen on ${this.listen} for ${what}: ${e.message}`;
        reject(new DriverError('proxy', why, e));
      });
      // An address inherited from the proxy this one replaced listens on that very socket (handoff/).
      server.listen(listenTarget(this.listen), LISTEN_BACKLOG, () => {
        server.removeAllListeners('error');
        server.on('error', () => {});
        this.server = server;
        // Not awaited: this server accepts from now on, and the caller attaches its services (and
        // certificates) only once this resolves; a wait here would answer those connections 404.
        void acceptOnMoreHandles(server);
        resolve();
      });
    });
  }

  /** Applies a service's connection-level settings to the open listener. */
  configure(table: ServiceTable): void {
    if (!this.server) return;
    // Clients without SNI (SNICallback is not called) get the certificate of the service changed last.
    const cert = table.certs.find((c) => c.pem);
    if (this.tls && cert?.pem) {
      (this.server as unknown as { setSecureContext(o: object): void }).setSecureContext({
        ...cert.pem,
        ALPNProtocols: ALPN,
      });
      this.defaultContext = cert.context;
    }
    this.server.headersTimeout = table.limits.headTimeoutMs;
    setKeepAlive(this.server, table.keepAliveTimeoutMs);
    this.keepAliveMs = table.keepAliveTimeoutMs;
  }

  /** Cuts every connection at once (the end of a shutdown or a retirement). */
  cut(): void {
    // An HTTP/2 listener (node:http2) has no closeAllConnections(): its sessions and sockets are cut.
    if (this.h2) cutH2Listener(this.h2);
    else this.server?.closeAllConnections();
  }

  /** Tells every HTTP/2 session to open no new stream here (GOAWAY); their open streams finish. */
  goAway(): void {
    for (const session of this.h2?.sessions ?? []) if (!session.closed) session.close();
  }

  close(graceMs: number): Promise<void> {
    // Closing the last listener on an inherited descriptor closes it: its number may then be reused.
    forgetInherited(this.listen);
    const s = this.server;
    const h2 = this.h2;
    this.server = undefined;
    this.h2 = undefined;
    if (h2) return closeH2Listener(h2, graceMs);
    return s ? closeListener(s, graceMs) : Promise.resolve();
  }
}
