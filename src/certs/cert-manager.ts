import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../cloud/clock.js';
import { realClock } from '../cloud/clock.js';
import { type CertInfo, readCert } from './cert-files.js';
import { CertIssueError, type Issuer } from './issuer.js';
import { type BackoffPolicy, DEFAULT_BACKOFF, renewAt, retryDelay } from './renewal-schedule.js';

/** One automatic certificate as `baton certs` and `baton status --json` show it. */
export interface CertStatus {
  host: string;
  state: CertState;
  names: string[];
  issuer: string | null;
  notBefore: string | null;
  notAfter: string | null;
  serial: string | null;
  renewAt: string | null;
  lastRenewal: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  nextAttemptAt: string | null;
}

/** valid: served and not due; due: renewal should start; issuing: an order is in flight; failed: waiting to retry. */
export type CertState = 'valid' | 'due' | 'issuing' | 'failed' | 'missing';

interface Entry {
  host: string;
  info: CertInfo | undefined;
  jitter: number;
  attempts: number;
  nextAttemptAt: number | undefined;
  lastRenewal: number | undefined;
  lastError: string | undefined;
  lastErrorAt: number | undefined;
}

export interface CertManagerOptions {
  dataDir: string;
  issuer: Issuer;
  clock?: Clock;
  random?: () => number;
  backoff?: BackoffPolicy;
  /** Share of the lifetime after which renewal is due (2/3; tests may lower it to force renewals). */
  renewFraction?: number;
  logger?: Logger;
}

const iso = (t: number | undefined): string | null => (t === undefined ? null : new Date(t).toISOString());

/**
 * The daemon's automatic certificates: issues a host's first one on demand (a deploy step), renews them in
 * the background, and never runs two orders for one name at once. Certificates live on disk only (the
 * proxy serves them from there), so a restarted daemon finds them by listing `<dataDir>/certs`.
 */
export class CertManager {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<CertInfo>>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly opts: CertManagerOptions) {
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    for (const host of this.hostsOnDisk()) this.entry(host);
  }

  private hostsOnDisk(): string[] {
    try {
      return readdirSync(join(this.opts.dataDir, 'certs'), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return [];
    }
  }

  private entry(host: string): Entry {
    const key = host.toLowerCase();
    let e = this.entries.get(key);
    if (!e) {
      e = {
        host: key,
        info: readCert(this.opts.dataDir, key),
        jitter: this.random(),
        attempts: 0,
        nextAttemptAt: undefined,
        lastRenewal: undefined,
        lastError: undefined,
        lastErrorAt: undefined,
      };
      this.entries.set(key, e);
    }
    return e;
  }

  private dueAt(e: Entry): number {
    if (!e.info) return Number.NEGATIVE_INFINITY;
    return renewAt(
      Date.parse(e.info.notBefore),
      Date.parse(e.info.notAfter),
      e.jitter,
      this.opts.renewFraction,
    );
  }

  /**
   * A certificate for `host` that the proxy can serve now: the one on disk while it is valid, else a new
   * order (joined when one is already in flight). A CA failure rejects with the CA's message.
   */
  async ensure(host: string): Promise<CertInfo> {
    const e = this.entry(host);
    const now = this.clock.now();
    if (e.info && Date.parse(e.info.notAfter) > now && Date.parse(e.info.notBefore) <= now) return e.info;
    return this.order(e);
  }

  /** Whether `host` has a usable certificate on disk (the planner's question: is there a step to take?). */
  has(host: string): boolean {
    const info = this.entry(host).info;
    const now = this.clock.now();
    return !!info && Date.parse(info.notAfter) > now;
  }

  /** Starts (or joins) an order for `host` now, whatever its dates: for tests and `baton certs renew`. */
  renew(host: string): Promise<CertInfo> {
    return this.order(this.entry(host));
  }

  private order(e: Entry): Promise<CertInfo> {
    const running = this.inFlight.get(e.host);
    if (running) return running;
    const p = (async () => {
      try {
        const info = await this.opts.issuer.issue(e.host);
        e.info = info;
        e.attempts = 0;
        e.nextAttemptAt = undefined;
        e.lastRenewal = this.clock.now();
        e.lastError = undefined;
        e.lastErrorAt = undefined;
        e.jitter = this.random();
        this.opts.logger?.info({ host: e.host, notAfter: info.notAfter }, 'certificate issued');
        return info;
      } catch (err) {
        e.attempts += 1;
        e.lastError = (err as Error).message;
        e.lastErrorAt = this.clock.now();
        const retryAfter = err instanceof CertIssueError ? err.retryAfterSec : undefined;
        e.nextAttemptAt =
          this.clock.now() +
          retryDelay(e.attempts, retryAfter, this.random(), this.opts.backoff ?? DEFAULT_BACKOFF);
        this.opts.logger?.warn({ host: e.host, error: e.lastError }, 'certificate order failed');
        throw err;
      } finally {
        this.inFlight.delete(e.host);
        this.reschedule();
      }
    })();
    this.inFlight.set(e.host, p);
    return p;
  }

  /** When `e` should next be ordered in the background (undefined: never, e.g. not yet issued and not failed). */
  private nextFor(e: Entry): number | undefined {
    if (!e.info) return undefined; // a first issue is a deploy's job, not the background's
    if (e.nextAttemptAt !== undefined) return e.nextAttemptAt;
    return this.dueAt(e);
  }

  /** Starts a background order for every certificate that is due and not already being ordered. */
  tick(): Promise<unknown>[] {
    const now = this.clock.now();
    const started: Promise<unknown>[] = [];
    for (const e of this.entries.values()) {
      const at = this.nextFor(e);
      if (at === undefined || at > now || this.inFlight.has(e.host)) continue;
      started.push(this.order(e).catch(() => undefined));
    }
    return started;
  }

  /** The earliest time the background has something to do. */
  nextWakeAt(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) {
      if (this.inFlight.has(e.host)) continue;
      const at = this.nextFor(e);
      if (at !== undefined && (min === undefined || at < min)) min = at;
    }
    return min;
  }

  /** Runs renewals in the background until `stop()`. The timer is capped so clock jumps are noticed. */
  start(): void {
    this.running = true;
    this.reschedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private reschedule(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    const at = this.nextWakeAt();
    const wait = at === undefined ? 3600_000 : Math.min(3600_000, Math.max(0, at - this.clock.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick();
      this.reschedule();
    }, wait);
    this.timer.unref();
  }

  list(): CertStatus[] {
    const now = this.clock.now();
    return [...this.entries.values()]
      .sort((a, b) => a.host.localeCompare(b.host))
      .map((e) => {
        const due = e.info ? this.dueAt(e) : undefined;
        const state: CertState = this.inFlight.has(e.host)
          ? 'issuing'
          : e.lastError
            ? 'failed'
            : !e.info
              ? 'missing'
              : due !== undefined && due <= now
                ? 'due'
                : 'valid';
        return {
          host: e.host,
          state,
          names: e.info?.names ?? [],
          issuer: e.info?.issuer ?? null,
          notBefore: e.info?.notBefore ?? null,
          notAfter: e.info?.notAfter ?? null,
          serial: e.info?.serial ?? null,
          renewAt: iso(due),
          lastRenewal: iso(e.lastRenewal),
          lastError: e.lastError ?? null,
          lastErrorAt: iso(e.lastErrorAt),
          nextAttemptAt: iso(e.nextAttemptAt),
        };
      });
  }
}
