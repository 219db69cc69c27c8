import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeElb } from './elb.js';

/**
 * The data path of the fake ALB: one HTTP server per listener on 127.0.0.1, doing what the listener's
 * action says — a fixed response, or a forward that picks a target group by weight and a healthy target
 * in it (round robin), and proxies the request there. Draining and unregistered targets get nothing.
 */
export class FakeAlbHttp {
  private readonly servers: Server[] = [];
  private turn = 0;

  constructor(private readonly elb: FakeElb) {}

  /** Starts a server for every listener and makes the ALB's DNS name and listener ports point at them. */
  async start(): Promise<void> {
    for (const [arn, listener] of this.elb.listeners) {
      const server = createServer((req, res) => this.handle(arn, req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      listener.Port = (server.address() as AddressInfo).port;
      this.servers.push(server);
    }
    this.elb.dnsName = '127.0.0.1';
  }

  private handle(
    arn: string,
    req: import('node:http').IncomingMessage,
    res: import('node:http').ServerResponse,
  ) {
    const action = this.elb.listeners.get(arn)?.DefaultActions?.[0];
    if (action?.Type === 'fixed-response') {
      res.statusCode = Number(action.FixedResponseConfig?.StatusCode ?? 503);
      res.end(action.FixedResponseConfig?.MessageBody ?? '');
      return;
    }
    const groups = this.elb.weightsOf(arn);
    const total = Object.values(groups).reduce((a, b) => a + b, 0);
    // A spread-out walk over the weights (deterministic, unlike random()): group i gets w_i / total.
    const pick = (this.turn++ * 7919) % Math.max(1, total);
    let below = 0;
    const group = Object.entries(groups).find(([, w]) => {
      below += w;
      return pick < below;
    })?.[0];
    const healthy = group ? this.elb.healthy(group) : [];
    const target = healthy[this.turn % Math.max(1, healthy.length)];
    if (!target) {
      res.statusCode = 503;
      res.end('503 Service Temporarily Unavailable\n');
      return;
    }
    const [host, port] = [
      target.slice(0, target.lastIndexOf(':')),
      Number(target.slice(target.lastIndexOf(':') + 1)),
    ];
    const inFlight = this.elb.inFlight;
    inFlight.set(target, (inFlight.get(target) ?? 0) + 1);
    res.once('close', () => inFlight.set(target, (inFlight.get(target) ?? 1) - 1));
    const up = request({ host, port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      res.statusCode = 502;
      res.end('502 Bad Gateway\n');
    });
    req.pipe(up);
  }

  async close(): Promise<void> {
    for (const s of this.servers) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }
}
