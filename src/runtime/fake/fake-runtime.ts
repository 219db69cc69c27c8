import http from 'node:http';
import type net from 'node:net';
import { NotFoundError } from '../../core/errors.js';
import { type Instance, InstanceState } from '../../core/types.js';
import type { ServiceSpec } from '../../spec/schema.js';
import type { LogOptions, Runtime, StartRequest } from '../runtime.js';

export type FakeOp = 'start' | 'restart' | 'stop' | 'remove';

export interface FakeRuntimeOptions {
  /**
   * Serve real HTTP on 127.0.0.1 per instance so probes and proxies work against it: `GET /` answers
   * `hello from <VERSION env or r<revision>>`, `/health` 200 (500 with env `HEALTH=fail` or after
   * `setHealthy(id, false)`), `/version` JSON. Without it, ports are made up and nothing listens.
   */
  serveHttp?: boolean;
  /** First made-up port (default 20000). */
  basePort?: number;
}

interface Entry {
  instance: Instance;
  spec: ServiceSpec;
  server?: http.Server;
  healthy: boolean;
  lines: string[];
}

/**
 * An in-memory Runtime for engine tests. It records the mutating calls (`calls`), can be told to fail
 * the next call of an operation (`failNext`), to crash an instance (`crash`), and honours the hello
 * app's env switches `CRASH_ON_BOOT=1` (starts exited with code 1) and `HEALTH=fail`.
 */
export class FakeRuntime implements Runtime {
  readonly kind = 'fake';
  readonly calls: { op: FakeOp; id: string }[] = [];
  private readonly entries = new Map<string, Entry>();
  private readonly failures = new Map<FakeOp, Error[]>();
  private nextPort: number;

  constructor(private readonly opts: FakeRuntimeOptions = {}) {
    this.nextPort = opts.basePort ?? 20_000;
  }

  /** The next call of `op` throws `error` (queued: call it twice to fail the next two). */
  failNext(op: FakeOp, error: Error): void {
    this.failures.set(op, [...(this.failures.get(op) ?? []), error]);
  }

  /** Marks an instance exited (as if it crashed) and closes its HTTP server. */
  async crash(id: string, exitCode = 1): Promise<void> {
    const e = this.entry(id);
    await this.unserve(e);
    e.instance = { ...e.instance, state: InstanceState.Exited, exitCode, signal: null };
    e.lines.push(`crashed with exit code ${exitCode}`);
  }

  /** Makes `/health` answer 200 (true) or 500 (false). */
  setHealthy(id: string, healthy: boolean): void {
    this.entry(id).healthy = healthy;
  }

  async start(req: StartRequest): Promise<Instance> {
    this.record('start', req.id);
    const existing = this.entries.get(req.id);
    if (existing?.instance.state === InstanceState.Running) return { ...existing.instance };
    const e: Entry = {
      spec: req.spec,
      healthy: req.spec.env.HEALTH !== 'fail',
      lines: [],
      instance: {
        id: req.id,
        service: req.service,
        revision: req.revision,
        deployment: req.deployment,
        host: '127.0.0.1',
        port: 0,
        state: InstanceState.Running,
        startedAt: new Date().toISOString(),
        restarts: 0,
        exitCode: null,
        signal: null,
      },
    };
    this.entries.set(req.id, e);
    await this.boot(e, undefined);
    return { ...e.instance };
  }

  async list(service?: string): Promise<Instance[]> {
    return [...this.entries.values()]
      .map((e) => ({ ...e.instance }))
      .filter((i) => service === undefined || i.service === service);
  }

  async get(id: string): Promise<Instance | undefined> {
    const e = this.entries.get(id);
    return e && { ...e.instance };
  }

  async restart(id: string): Promise<Instance> {
    this.record('restart', id);
    const e = this.entry(id);
    await this.unserve(e);
    e.instance = { ...e.instance, restarts: e.instance.restarts + 1, startedAt: new Date().toISOString() };
    await this.boot(e, e.instance.port);
    return { ...e.instance };
  }

  async stop(id: string, _timeoutMs: number): Promise<void> {
    this.record('stop', id);
    const e = this.entries.get(id);
    if (!e || e.instance.state === InstanceState.Stopped) return;
    await this.unserve(e);
    e.lines.push('stopped');
    e.instance = { ...e.instance, state: InstanceState.Stopped };
  }

  async remove(id: string): Promise<void> {
    this.record('remove', id);
    const e = this.entries.get(id);
    if (e) await this.unserve(e);
    this.entries.delete(id);
  }

  async *logs(id: string, opts: LogOptions = {}): AsyncIterable<string> {
    const e = this.entry(id);
    const start = opts.tail === undefined ? 0 : Math.max(0, e.lines.length - opts.tail);
    let i = start;
    for (;;) {
      while (i < e.lines.length) yield e.lines[i++]!;
      if (!opts.follow || opts.signal?.aborted) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.unserve(e)));
  }

  private record(op: FakeOp, id: string): void {
    this.calls.push({ op, id });
    const error = this.failures.get(op)?.shift();
    if (error) throw error;
  }

  private entry(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw new NotFoundError(`instance ${id}`);
    return e;
  }

  private async boot(e: Entry, port: number | undefined): Promise<void> {
    const version = e.spec.env.VERSION ?? `r${e.instance.revision}`;
    if (e.spec.env.CRASH_ON_BOOT === '1') {
      e.lines.push(`hello ${version}: CRASH_ON_BOOT=1, exiting`);
      e.instance = { ...e.instance, port: port ?? this.nextPort++, state: InstanceState.Exited, exitCode: 1 };
      return;
    }
    if (this.opts.serveHttp) {
      e.server = this.serve(e, version);
      await new Promise<void>((resolve, reject) => {
        e.server!.once('error', reject);
        e.server!.listen(port ?? 0, '127.0.0.1', resolve);
      });
      port = (e.server.address() as net.AddressInfo).port;
    }
    e.instance = {
      ...e.instance,
      port: port ?? this.nextPort++,
      state: InstanceState.Running,
      exitCode: null,
    };
    e.lines.push(`hello ${version} listening on 127.0.0.1:${e.instance.port}`);
  }

  private serve(e: Entry, version: string): http.Server {
    return http.createServer((req, res) => {
      const send = (status: number, body: string) => {
        res.writeHead(status, { 'x-version': version, 'x-instance': e.instance.id });
        res.end(body);
      };
      if (req.url === '/health') send(e.healthy ? 200 : 500, e.healthy ? 'ok\n' : 'unhealthy\n');
      else if (req.url === '/version') send(200, JSON.stringify({ version, id: e.instance.id }));
      else send(200, `hello from ${version}\n`);
    });
  }

  private async unserve(e: Entry): Promise<void> {
    const server = e.server;
    if (!server) return;
    e.server = undefined;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
