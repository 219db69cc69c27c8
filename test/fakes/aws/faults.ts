/** One call as the fake saw it. */
export interface Call {
  api: 'ecs' | 'elb';
  op: string;
  input: Record<string, unknown>;
  /** Set when the fake failed the call: `before` (nothing applied) or `after` (applied, answer lost). */
  fault?: { error: string; when: 'before' | 'after' } | undefined;
}

/** A share of calls fails: throttling (always before it runs) or 500 (before, or after it ran). */
export interface FaultPlan {
  rate: number;
  /** Share of injected faults that are 500s (the rest throttling); default 0.5. */
  serverShare?: number;
  /** Share of 500s on writes that happen after the write was applied (a lost answer); default 0.5. */
  afterShare?: number;
  /** Operations never failed (e.g. none); default: every operation may fail. */
  spare?: string[];
}

/** Deterministic PRNG (mulberry32), so a faulty run is the same run every time. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let requestSeq = 0;

/** An error shaped like the SDK's ServiceException (name, $fault, $metadata). */
export function awsError(name: string, status: number, message: string): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: `req-${++requestSeq}` },
  });
}

export const throttling = (api: 'ecs' | 'elb'): Error =>
  api === 'ecs'
    ? awsError('ThrottlingException', 400, 'Rate exceeded')
    : awsError('Throttling', 400, 'Rate exceeded');

export const serverError = (api: 'ecs' | 'elb'): Error =>
  api === 'ecs'
    ? awsError('ServerException', 500, 'internal error')
    : awsError('InternalFailure', 500, 'internal error');

const READ = /^(Describe|List|Get)/;

/** Records every call and decides which fail. */
export class Recorder {
  readonly calls: Call[] = [];
  plan: FaultPlan | null = null;
  /** FAULT_SEED varies the faulty run (default 42, so a run is the same run every time). */
  private readonly random = seeded(Number(process.env.FAULT_SEED ?? 42));
  private readonly once = new Map<string, Array<{ error: Error; when: 'before' | 'after' }>>();

  failNext(op: string, error: Error, when: 'before' | 'after' = 'before'): void {
    const list = this.once.get(op) ?? [];
    list.push({ error, when });
    this.once.set(op, list);
  }

  /** Runs one operation's handler, recording it and injecting the planned fault. */
  async run<T>(
    api: 'ecs' | 'elb',
    op: string,
    input: Record<string, unknown>,
    handler: () => Promise<T> | T,
  ): Promise<T> {
    const call: Call = { api, op, input };
    this.calls.push(call);
    const planned = this.once.get(op)?.shift();
    const fault = planned ?? this.draw(api, op);
    if (fault?.when === 'before') {
      call.fault = { error: fault.error.name, when: 'before' };
      throw fault.error;
    }
    const out = await handler();
    if (fault) {
      call.fault = { error: fault.error.name, when: 'after' };
      throw fault.error;
    }
    return out;
  }

  private draw(api: 'ecs' | 'elb', op: string): { error: Error; when: 'before' | 'after' } | undefined {
    const p = this.plan;
    if (!p || p.spare?.includes(op) || this.random() >= p.rate) return undefined;
    if (this.random() >= (p.serverShare ?? 0.5)) return { error: throttling(api), when: 'before' };
    const after = !READ.test(op) && this.random() < (p.afterShare ?? 0.5);
    return { error: serverError(api), when: after ? 'after' : 'before' };
  }

  /** Successful operations in order, consecutive repeats of one read folded (polling). */
  ops(filter: (c: Call) => boolean = () => true): string[] {
    const out: string[] = [];
    for (const c of this.calls) {
      if (c.fault || !filter(c)) continue;
      if (READ.test(c.op) && out[out.length - 1] === c.op) continue;
      out.push(c.op);
    }
    return out;
  }

  /** Writes that took effect (succeeded, or failed after running). */
  writes(op?: string): Call[] {
    return this.calls.filter(
      (c) => !READ.test(c.op) && c.fault?.when !== 'before' && (op === undefined || c.op === op),
    );
  }
}
