import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A webhook receiver on 127.0.0.1 (port 0) that records what it was sent. */
export interface Receiver {
  url: string;
  /** Bodies received, parsed, in arrival order, with the path they came to. */
  got: Array<{ path: string; body: unknown }>;
  /** Requests that arrived and are not answered (a `hold` receiver). */
  readonly holding: number;
  close(): Promise<void>;
}

/**
 * `answer` says what to do with the n-th request (0-based): a status to answer, or `hold` to keep it open
 * until the receiver closes (a receiver that accepts and never answers).
 */
export async function startReceiver(answer: (n: number) => number | 'hold' = () => 200): Promise<Receiver> {
  const got: Receiver['got'] = [];
  const held = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = got.length;
      got.push({ path: req.url ?? '/', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const a = answer(n);
      if (a === 'hold') {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      res.writeHead(a).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    got,
    get holding() {
      return held.size;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
