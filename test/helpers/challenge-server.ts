import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChallengeResponder } from '../../src/certs/challenge.js';

/**
 * A stand-in for the proxy's HTTP listener in module tests: answers /.well-known/acme-challenge/<token>
 * with what the issuer set, 404 otherwise; counts what the CA fetched.
 */
export interface ChallengeServer extends ChallengeResponder {
  port: number;
  fetched: string[];
  close(): Promise<void>;
}

export async function startChallengeServer(): Promise<ChallengeServer> {
  const answers = new Map<string, string>();
  const fetched: string[] = [];
  const server: Server = createServer((req, res) => {
    const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    const answer = m ? answers.get(m[1]!) : undefined;
    if (m) fetched.push(m[1]!);
    res.writeHead(answer ? 200 : 404, { 'content-type': 'text/plain' }).end(answer ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    fetched,
    set: async (token, keyAuth) => {
      answers.set(token, keyAuth);
    },
    remove: async (token) => {
      answers.delete(token);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
