import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * Crafted peers for the proxy's conformance tests: a backend that answers with whatever bytes a test
 * writes, and a client that sends whatever bytes a test gives it. Both record what they received.
 */
export interface RawBackend {
  address: string;
  /** Bytes received, one string per connection (latin1). */
  seen: string[];
  /** Request heads received, in order, over all connections. */
  heads: string[];
  close(): Promise<void>;
}

/** A request head the backend received and where: answer it by writing to `socket`. */
export interface RawRequest {
  head: string;
  socket: Socket;
  /** Index of the connection (0-based) and of the request on it. */
  connection: number;
  index: number;
  header(name: string): string | undefined;
}

/**
 * A backend on 127.0.0.1:0 calling `answer` for each request head. The body of a request (by its
 * Content-Length, or up to a zero chunk) is skipped before looking for the next head.
 */
export function rawBackend(answer: (r: RawRequest) => void): Promise<RawBackend> {
  const seen: string[] = [];
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const connection = seen.length;
    seen.push('');
    let buf = '';
    let index = 0;
    socket.on('data', (chunk) => {
      const text = chunk.toString('latin1');
      seen[connection] += text;
      buf += text;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end + 4);
        const header = (name: string): string | undefined =>
          new RegExp(`^${name}:[ \\t]*(.*?)[ \\t]*$`, 'im').exec(head)?.[1];
        const length = Number(header('content-length') ?? 0);
        let rest = buf.slice(end + 4);
        if (/chunked/i.test(header('transfer-encoding') ?? '')) {
          const z = rest.indexOf('0\r\n\r\n');
          if (z < 0) return;
          rest = rest.slice(z + 5);
        } else {
          if (rest.length < length) return;
          rest = rest.slice(length);
        }
        buf = rest;
        heads.push(head);
        answer({ head, socket, connection, index: index++, header });
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({
        address: `127.0.0.1:${port}`,
        seen,
        heads,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/** A client connection sending raw bytes; `text()` is everything received until the proxy closed it. */
export interface RawClient {
  socket: Socket;
  received(): string;
  write(bytes: string): void;
  /** Resolves with all bytes once the proxy closes the connection. */
  closed(): Promise<string>;
  /** Resolves once the received bytes match `re`. */
  until(re: RegExp): Promise<string>;
}

export function rawClient(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    let got = '';
    const waiters = new Set<() => void>();
    let ended = false;
    const socket = connect({ host: '127.0.0.1', port }, () => {
      resolve({
        socket,
        received: () => got,
        write: (bytes) => socket.write(bytes, 'latin1'),
        closed: () =>
          new Promise((r) => {
            const check = () => {
              if (!ended) return;
              waiters.delete(check);
              r(got);
            };
            waiters.add(check);
            check();
          }),
        until: (re) =>
          new Promise((r) => {
            const check = () => {
              if (!re.test(got) && !ended) return;
              waiters.delete(check);
              r(got);
            };
            waiters.add(check);
            check();
          }),
      });
    });
    socket.on('error', reject);
    socket.on('data', (c) => {
      got += c.toString('latin1');
      for (const w of [...waiters]) w();
    });
    socket.on('close', () => {
      ended = true;
      for (const w of [...waiters]) w();
    });
  });
}

/** Sends `bytes` on a new connection and returns everything the proxy sent before closing it. */
export async function exchange(port: number, bytes: string): Promise<string> {
  const c = await rawClient(port);
  c.write(bytes);
  return c.closed();
}

/** The status code of the first response in `text` (0 when there is none). */
export function statusOf(text: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
}

/** A response with a Content-Length body. */
export function ok(body: string, extra = ''): string {
  return `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n${extra}\r\n${body}`;
}
