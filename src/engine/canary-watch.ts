import { analysisConfig } from '../analysis/config.js';
import { judge, type Verdict } from '../analysis/judge.js';
import { windowDelta } from '../analysis/window.js';
import type { RevisionStats, Router } from '../router/router.js';
import type { AnalysisSpec } from '../spec/strategy.js';
import type { Emit } from './events.js';
import type { DeploymentSignals } from './signals.js';

const empty = (revision: number): RevisionStats => ({
  revision,
  requests: 0,
  errors: 0,
  latency: { bounds: [], counts: [0] },
});

/**
 * The canary judge at work: from the moment the canary takes traffic, every `interval` it compares the
 * canary with the stable revision over the same window (the router's counters since the start) and
 * aborts the deployment as soon as the verdict is abort. The `judge` step waits here for a promote.
 */
export class CanaryWatch {
  last: Verdict | undefined;
  private timer: NodeJS.Timeout | undefined;
  private baseline = new Map<number, RevisionStats>();
  private waiters = new Set<() => void>();

  constructor(
    private readonly router: Router,
    private readonly service: string,
    private readonly stable: number,
    private readonly canary: number,
    private readonly spec: AnalysisSpec,
    private readonly emit: Emit,
    private readonly signals: DeploymentSignals,
  ) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  async start(): Promise<void> {
    if (this.timer) return;
    const route = await this.router.status(this.service);
    this.baseline = new Map((route?.revisions ?? []).map((r) => [r.revision, r]));
    const tick = () => {
      this.evaluate()
        .catch((err: unknown) =>
          this.emit({ type: 'warning', message: `canary analysis failed to read counters: ${err}` }),
        )
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.spec.interval);
        });
    };
    this.timer = setTimeout(tick, this.spec.interval);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiters) w();
  }

  /** One judgement now. Exposed for tests. */
  async evaluate(): Promise<Verdict> {
    const route = await this.router.status(this.service);
    const now = new Map((route?.revisions ?? []).map((r) => [r.revision, r]));
    const config = analysisConfig({
      ...(this.spec.minRequests !== undefined ? { minRequests: this.spec.minRequests } : {}),
      ...(this.spec.alpha !== undefined ? { alpha: this.spec.alpha } : {}),
      ...(this.spec.beta !== undefined ? { beta: this.spec.beta } : {}),
    });
    const window = (rev: number) => windowDelta(now.get(rev) ?? empty(rev), this.baseline.get(rev));
    const verdict = judge({ stable: window(this.stable), canary: window(this.canary), config });
    const changed = verdict.decision !== this.last?.decision || verdict.code !== this.last?.code;
    this.last = verdict;
    if (changed || verdict.decision !== 'wait')
      this.emit({
        type: 'analysis',
        decision: verdict.decision,
        reason: verdict.reason,
        figures: verdict.figures,
      });
    if (verdict.decision === 'abort') {
      this.stop();
      this.signals.abort(`canary analysis aborted: ${verdict.reason}`);
    }
    if (verdict.decision === 'promote') for (const w of this.waiters) w();
    return verdict;
  }

  /** Resolves with the verdict once the judge promotes, or with the last one at the deadline. */
  async awaitPromote(deadlineMs: number): Promise<Verdict | undefined> {
    if (this.last?.decision === 'promote') return this.last;
    let release: () => void = () => undefined;
    const promoted = new Promise<void>((r) => {
      release = r;
      this.waiters.add(r);
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => {
      timer = setTimeout(r, deadlineMs);
    });
    try {
      await this.signals.race(Promise.race([promoted, deadline]));
    } finally {
      clearTimeout(timer);
      this.waiters.delete(release);
    }
    return this.last;
  }
}
