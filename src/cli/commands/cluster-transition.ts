import type { Command } from 'commander';
import { gather, SUBJECTS, type TransitionReply } from '../../agent/control.js';
import { isTransition, TRANSITIONS } from '../../agent/machine.js';
import { NodeStatusBucket } from '../../agent/node-status.js';
import { InputError } from '../../core/errors.js';
import { action, type Io, stdio } from '../context.js';
import { natsOption, withCluster } from './cluster-common.js';

export function registerTransition(program: Command, io: Io = stdio): void {
  natsOption(
    program
      .command('transition')
      .description(`cluster mode: ${TRANSITIONS.join('|')} SERVICE's instances on every node (or one)`)
      .argument('<service>')
      .argument('<transition>', TRANSITIONS.join(' | '))
      .option('--node <name>', 'only this node')
      .option('--timeout <ms>', 'how long to wait for the agents’ answers', '3000')
      .option('--json', 'print as JSON'),
  ).action(
    action(
      async (
        service: string,
        t: string,
        opts: { nats?: string; node?: string; timeout: string; json?: boolean },
      ) => {
        if (!isTransition(t))
          throw new InputError(`unknown transition "${t}" (known: ${TRANSITIONS.join(', ')})`);
        const replies = await withCluster(opts, async (c) => {
          const nodes = await (
            await NodeStatusBucket.open(c.nc, { ttlMs: 60_000, replicas: c.replicas })
          ).list();
          const expect = opts.node ? 1 : Math.max(1, nodes.length);
          return gather<TransitionReply>(
            c.nc,
            SUBJECTS.transition,
            { service, transition: t, node: opts.node },
            { expect, timeoutMs: Number(opts.timeout) || 3000 },
          );
        });
        const results = replies.filter((r) => r.known);
        const refused = results.flatMap((r) =>
          r.results.filter((x) => !x.ok).map((x) => ({ node: r.node, ...x })),
        );
        const ok = results.length > 0 && refused.length === 0;
        if (opts.json) io.out(JSON.stringify({ ok, replies }, null, 2));
        else {
          if (replies.length === 0) io.out(`no agent answered${opts.node ? ` for node ${opts.node}` : ''}`);
          for (const r of replies) {
            if (!r.known) io.out(`${r.node}: runs no service ${service}`);
            for (const x of r.results)
              io.out(`${r.node}  slot ${x.slot}  ${x.from} → ${x.ok ? x.to : `refused: ${x.reason}`}`);
          }
        }
        return ok ? 0 : 1;
      },
    ),
  );
}
