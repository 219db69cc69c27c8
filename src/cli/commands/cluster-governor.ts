import type { Command } from 'commander';
import { DESIRED_PREFIX, type Desired } from '../../agent/desired.js';
import { Governor } from '../../cluster/governor.js';
import { formatDuration, parseDuration } from '../../core/duration.js';
import { InputError } from '../../core/errors.js';
import { clusterOf } from '../../spec/cluster.js';
import type { NatsStore } from '../../store/nats/nats-store.js';
import { Repo } from '../../store/repo.js';
import { action, type Io, stdio } from '../context.js';
import { natsOption, withCluster } from './cluster-common.js';

function capacityOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InputError(`capacity must be a whole number of at least 1, not ${v}`);
  return n;
}

function expiryOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined) throw new InputError(`expected a duration such as 30s or 5m, not ${v}`);
  return ms;
}

/**
 * Refuses a lease expiry shorter than the probe window (`probe.startTimeout`) of a desired service whose
 * spec names the governor: an update waits that long for its new instance, and a lease that expires
 * meanwhile lets another agent in (more than `capacity` at once). Services deployed later are not known.
 */
async function checkExpiry(store: NatsStore, name: string, expiryMs: number): Promise<void> {
  const repo = new Repo(store);
  for (const e of await store.list<Desired>(DESIRED_PREFIX)) {
    const rev = await repo.getRevision(e.value.service, e.value.revision);
    if (!rev) continue;
    const c = clusterOf(rev.spec);
    if (c.updateGovernor?.name !== name && c.restartGovernor?.name !== name) continue;
    const window = rev.spec.probe.startTimeout;
    if (expiryMs < window)
      throw new InputError(
        `governor ${name}: expiry ${formatDuration(expiryMs)} is shorter than the probe window of service ${e.value.service} (probe.startTimeout ${formatDuration(window)}): a lease would expire while an instance starts and let another agent in; give at least ${formatDuration(window)} (more than the slowest update), or --force`,
      );
  }
}

export function registerGovernor(program: Command, io: Io = stdio): void {
  const gov = program
    .command('governor')
    .description('cluster mode: the governors limiting concurrent updates and restarts');
  const print = (json: boolean | undefined, value: unknown, text: string) =>
    io.out(json ? JSON.stringify({ ok: true, ...(value as object) }, null, 2) : text);

  natsOption(
    gov
      .command('add')
      .description('create NAME with CAPACITY leases that expire after EXPIRY (or change it)')
      .argument('<name>')
      .argument('<capacity>')
      .argument('[expiry]', 'lease expiry (more than the slowest update)', '5m')
      .option('--force', 'accept an expiry shorter than the probe window of a service using NAME')
      .option('--json', 'print as JSON'),
  ).action(
    action(
      async (
        name: string,
        capacity: string,
        expiry: string,
        opts: { nats?: string; json?: boolean; force?: boolean },
      ) => {
        const expiryMs = expiryOf(expiry)!;
        const cfg = await withCluster(opts, async (c) => {
          if (!opts.force) await checkExpiry(c.store, name, expiryMs);
          const g = await Governor.add(c.nc, name, {
            capacity: capacityOf(capacity)!,
            expiryMs,
            replicas: c.replicas,
          });
          return g.config();
        });
        print(
          opts.json,
          { name, ...cfg },
          `governor ${name}: capacity ${cfg.capacity}, expiry ${cfg.expiryMs} ms`,
        );
        return 0;
      },
    ),
  );

  natsOption(
    gov
      .command('list')
      .description('the capacity, expiry and current holders of NAME')
      .argument('<name>')
      .option('--json', 'print as JSON'),
  ).action(
    action(async (name: string, opts: { nats?: string; json?: boolean }) => {
      const r = await withCluster(opts, async (c) => {
        const g = await Governor.open(c.nc, name);
        return { config: await g.config(), leases: await g.list() };
      });
      print(
        opts.json,
        { name, ...r },
        [
          `governor ${name}: capacity ${r.config.capacity}, expiry ${r.config.expiryMs} ms, ${r.leases.length} held`,
          ...r.leases.map((l) => `  #${l.seq}  ${l.holder}  since ${l.since.toISOString()}`),
        ].join('\n'),
      );
      return 0;
    }),
  );

  natsOption(
    gov
      .command('set')
      .description('change the capacity and/or expiry of NAME, at once')
      .argument('<name>')
      .option('--capacity <n>')
      .option('--expiry <duration>', 'lease expiry (more than the slowest update)')
      .option('--force', 'accept an expiry shorter than the probe window of a service using NAME')
      .option('--json', 'print as JSON'),
  ).action(
    action(
      async (
        name: string,
        opts: { nats?: string; capacity?: string; expiry?: string; json?: boolean; force?: boolean },
      ) => {
        const capacity = capacityOf(opts.capacity);
        const expiryMs = expiryOf(opts.expiry);
        if (capacity === undefined && expiryMs === undefined)
          throw new InputError('give --capacity and/or --expiry');
        const cfg = await withCluster(opts, async (c) => {
          if (expiryMs !== undefined && !opts.force) await checkExpiry(c.store, name, expiryMs);
          const g = await Governor.open(c.nc, name);
          await g.set({
            ...(capacity !== undefined ? { capacity } : {}),
            ...(expiryMs !== undefined ? { expiryMs } : {}),
          });
          return g.config();
        });
        print(
          opts.json,
          { name, ...cfg },
          `governor ${name}: capacity ${cfg.capacity}, expiry ${cfg.expiryMs} ms`,
        );
        return 0;
      },
    ),
  );

  natsOption(
    gov
      .command('reset')
      .description('drop every lease of NAME (holders are not told)')
      .argument('<name>')
      .option('--json', 'print as JSON'),
  ).action(
    action(async (name: string, opts: { nats?: string; json?: boolean }) => {
      await withCluster(opts, async (c) => (await Governor.open(c.nc, name)).reset());
      print(opts.json, { name }, `governor ${name}: every lease dropped`);
      return 0;
    }),
  );
}
