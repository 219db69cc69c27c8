import { createServer, type Server } from 'node:http';

/**
 * What runs inside a fake container: images whose URL contains `hello` serve the hello app (`GET /`
 * answers `hello from <VERSION>`) on the instance's private IP (a 127.0.1.x loopback address) at `PORT`;
 * any other image runs nothing reachable. Output goes to the container's log lines.
 */
export class FakeApp {
  private server: Server | undefined;

  constructor(
    private readonly imageUrl: string,
    private readonly env: Record<string, string>,
    private readonly log: (line: string) => void,
  ) {}

  async start(ip: string): Promise<void> {
    if (!this.imageUrl.includes('hello') || !this.env.PORT) {
      this.log(`started ${this.imageUrl}`);
      return;
    }
    const version = this.env.VERSION ?? 'unknown';
    const server = createServer((req, res) => {
      req.resume();
      res.setHeader('content-type', 'text/plain');
      res.end(`hello from ${version}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(this.env.PORT), ip, () => resolve());
    });
    this.server = server;
    this.log(`listening on ${ip}:${this.env.PORT}`);
  }

  async stop(reason: string): Promise<void> {
    this.log(reason);
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
