import { Registry } from 'prom-client';

/**
 * One set of metrics and what refreshes it before each scrape. Metrics computed at scrape time read a
 * snapshot (the proxy's summed status, the instance list) taken once per scrape by a refresher, so every
 * collector of one answer sees the same moment and the source is asked once.
 */
export class Scrape {
  readonly registry = new Registry();
  private readonly refreshers: Array<() => Promise<void>> = [];

  /** Runs `fn` before each scrape; a failure is the refresher's own to report (it must not throw). */
  beforeScrape(fn: () => Promise<void>): void {
    this.refreshers.push(fn);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text (written by prom-client). */
  async render(): Promise<string> {
    await Promise.all(this.refreshers.map((r) => r()));
    return this.registry.metrics();
  }
}
