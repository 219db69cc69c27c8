import { Gauge } from 'prom-client';
import type { Instance } from '../core/types.js';
import type { Scrape } from './scrape.js';

/** `baton_instances{service,revision,state}`, listed from the runtimes at each scrape. */
export function registerInstanceMetrics(scrape: Scrape, instances: () => Promise<Instance[]>): void {
  const registers = [scrape.registry];
  let listed: Instance[] = [];
  let listedOk = 1;
  scrape.beforeScrape(async () => {
    try {
      listed = await instances();
      listedOk = 1;
    } catch {
      listed = [];
      listedOk = 0;
    }
  });
  new Gauge({
    name: 'baton_instances',
    help: 'Instances by service, revision and state, as the runtimes list them at scrape time.',
    labelNames: ['service', 'revision', 'state'],
    registers,
    collect() {
      this.reset();
      for (const i of listed) this.inc({ service: i.service, revision: String(i.revision), state: i.state });
    },
  });
  new Gauge({
    name: 'baton_instances_listed',
    help: 'Whether the runtimes answered the instance listing of this scrape (1) or not (0).',
    registers,
    collect() {
      this.set(listedOk);
    },
  });
}
