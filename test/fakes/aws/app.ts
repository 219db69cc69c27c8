import { createServer, type Server } from 'node:http';

/**
 * What runs in a fake task: the hello app (`GET /` answers `hello from <VERSION>`, `/health` 200 — or
 * 500 when the image name contains `sick`) on the task's private IP (a 127.x.y.z loopback address) at
 * PORT. Output goes to the task's log lines.
 */
export class FakeApp {
  private server: Server | undefined;

  constructor(
    private readonly image: string,
    private readonly env: Record<string, string>,
    private readonly log: (line: string) => void,
  ) {}

  async start(ip: string): Promise<void> {
    const version = this.env.VERSION ?? 'unknown';
    const sick = this.image.includes('sick');
    const server = createServer((req, res) => {
      req.resume();
      res.setHeader('content-type', 'text/plain');
      if (req.url === '/health' && sick) res.statusCode = 500;
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
    // The app's last words reach the log stream a little after the stop (CloudWatch delivery is not instant).
    setTimeout(() => this.log(reason), 50);
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
