import type { Command } from 'commander';
import { setTag } from '../../agent/deploy.js';
import { action, type Io, stdio } from '../context.js';
import { actor, natsOption, withCluster } from './cluster-common.js';

export function registerSetTag(program: Command, io: Io = stdio): void {
  natsOption(
    program
      .command('set-tag')
      .description('cluster mode: run SERVICE’s image at TAG on every node (a new revision; docker services)')
      .argument('<service>')
      .argument('<tag>')
      .option('--json', 'print the result as JSON'),
  ).action(
    action(async (service: string, tag: string, opts: { nats?: string; json?: boolean }) => {
      const r = await withCluster(opts, (c) =>
        setTag(c.nc, c.store, { service, tag, actor: actor(), replicas: c.replicas }),
      );
      if (opts.json) io.out(JSON.stringify({ ok: true, ...r }, null, 2));
      else
        io.out(
          `${service}: desired revision ${r.revision} (tag ${tag})${r.desired ? '' : ' — already desired'}`,
        );
      return 0;
    }),
  );
}
