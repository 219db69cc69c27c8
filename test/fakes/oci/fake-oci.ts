import { type CiOptions, FakeContainerInstances } from './container-instances.js';
import { type Call, FakeHttp, type FaultPlan } from './http.js';
import { FakeLoadBalancing } from './load-balancer.js';

export type { Call, FaultPlan };

/**
 * In-process fake of the OCI endpoints Baton's drivers use, on 127.0.0.1 port 0, with OCI's own paths
 * and JSON: Container Instances, Core (GetVnic) and Load Balancing. Point a real SDK client at it with
 * `client.endpoint = fake.url`. Every call is recorded (`calls`, `ops()`); faults are injected with
 * `inject` (a share of calls) and `failNext` (one operation).
 */
export class FakeOci {
  readonly http = new FakeHttp();
  readonly ci: FakeContainerInstances;
  readonly lb: FakeLoadBalancing;

  private constructor(opts: Partial<CiOptions>) {
    this.ci = new FakeContainerInstances(this.http, { transitionGets: 1, listLag: 0, ...opts });
    this.lb = new FakeLoadBalancing(this.http);
  }

  static async start(opts: Partial<CiOptions> = {}): Promise<FakeOci> {
    const f = new FakeOci(opts);
    await f.http.start();
    return f;
  }

  get url(): string {
    return this.http.url;
  }

  get calls(): Call[] {
    return this.http.calls;
  }

  inject(plan: FaultPlan | null): void {
    this.http.inject(plan);
  }

  failNext(...args: Parameters<FakeHttp['failNext']>): void {
    this.http.failNext(...args);
  }

  /**
   * The operations answered with success, in order, with consecutive repeats of the same read folded
   * into one (polling) — what a test compares with the expected flow.
   */
  ops(filter: (c: Call) => boolean = () => true): string[] {
    const out: string[] = [];
    for (const c of this.calls) {
      if (c.status >= 400 || !filter(c)) continue;
      const name = c.op;
      if (c.method === 'GET' && out[out.length - 1] === name) continue;
      out.push(name);
    }
    return out;
  }

  /** Calls that changed something (and succeeded). */
  writes(): Call[] {
    return this.calls.filter((c) => c.method !== 'GET' && c.status < 400);
  }

  async close(): Promise<void> {
    await this.ci.close();
    await this.http.close();
  }
}
