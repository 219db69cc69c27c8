import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { InputError } from '../core/errors.js';
import type { Scrape } from './scrape.js';

/** Answers a scrape: the exposition text, or 500 with the reason (logged). */
export async function answerScrape(scrape: Scrape, res: ServerResponse, log: Logger): Promise<void> {
  try {
    const text = await scrape.render();
    res.writeHead(200, { 'content-type': scrape.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  } catch (err) {
    log.error({ err }, 'metrics scrape failed');
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('metrics scrape failed\n');
  }
}

/** `HOST:PORT` of `--metrics-listen`; the host is required (no accidental 0.0.0.0). */
export function parseMetricsListen(flag: string, value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    throw new InputError(`${flag}: expected HOST:PORT such as 127.0.0.1:9464, found "${value}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export interface MetricsListener {
  /** host:port it listens on (the port the OS chose for port 0). */
  address: string;
  close(): Promise<void>;
}

/**
 * `--metrics-listen`: GET /metrics without a token, for a scraper on a private network. It serves only
 * the metrics (no API, no secrets: label values are service names, revisions and states).
 */
export function listenMetrics(
  scrape: Scrape,
  at: { host: string; port: number },
  log: Logger,
): Promise<MetricsListener> {
  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('only /metrics is served here\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return;
    }
    void answerScrape(scrape, res, log);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new InputError(`--metrics-listen ${at.host}:${at.port}: ${e.message}`)),
    );
    server.listen(at.port, at.host, () => {
      server.removeAllListeners('error');
      const a = server.address() as AddressInfo;
      const address = `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
      log.info({ address }, 'serving metrics without a token');
      resolve({
        address,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
