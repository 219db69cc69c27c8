import type { Command } from 'commander';
import { redactRevision } from '../../api/redact.js';
import { NotFoundError } from '../../core/errors.js';
import type { Deployment, Revision } from '../../core/types.js';
import { Repo } from '../../store/repo.js';
import { action, type Io, stdio } from '../context.js';
import { clusterFlags, envClient, envOption } from '../environment.js';
import { natsOption, withCluster } from './cluster-common.js';

interface History {
  current: number | null;
  revisions: Revision[];
  deployments: Deployment[];
}

/**
 * Cluster mode: the revisions recorded in NATS. There are no deployments there (agents roll out); a
 * revision becomes `active` when every node runs it, and the one before `superseded` (agent/converged.ts).
 */
async function clusterHistory(service: string, flags: { nats?: string }): Promise<History> {
  return withCluster(flags, async (c) => {
    const repo = new Repo(c.store);
    const record = await repo.getService(service);
    if (!record) throw new NotFoundError(`service ${service} in the cluster`);
    const revisions = (await repo.listRevisions(service)).map(redactRevision);
    return { current: record.current, revisions, deployments: [] };
  });
}

export function registerHistory(program: Command, io: Io = stdio): void {
  natsOption(
    envOption(
      program
        .command('history')
        .description("a service's revisions and recent deployments")
        .argument('<service>')
        .option('--json', 'print as JSON')
        .option('--limit <n>', 'deployments to show', '10')
        .option('--cluster', 'cluster mode: the revisions recorded in NATS (active = every node runs it)'),
    ),
  ).action(
    action(
      async (
        service: string,
        opts: { json?: boolean; limit: string; cluster?: boolean; nats?: string; env?: string; file: string },
        cmd: Command,
      ) => {
        const cluster = await clusterFlags(opts);
        if (cluster) opts = { ...opts, ...cluster };
        const h = opts.cluster
          ? await clusterHistory(service, opts)
          : await (await envClient(cmd, opts)).json<History>(
              'GET',
              `/v1/services/${encodeURIComponent(service)}/history?limit=${Number(opts.limit) || 10}`,
            );
        if (opts.json) {
          io.out(JSON.stringify(h, null, 2));
          return 0;
        }
        io.out('REVISION  STATUS      CREATED                   HASH          NOTE');
        for (const r of h.revisions) {
          const mark = r.number === h.current ? '*' : ' ';
          io.out(
            `${mark}${String(r.number).padEnd(8)}  ${r.status.padEnd(10)}  ${r.createdAt.padEnd(24)}  ${r.hash.slice(0, 12)}  ${r.reason ?? ''}`,
          );
        }
        if (opts.cluster) return 0;
        io.out('\nDEPLOYMENT    KIND      FROM  TO  STATE        STARTED                   BY');
        for (const d of h.deployments) {
          io.out(
            `${d.id.padEnd(12)}  ${d.kind.padEnd(8)}  ${String(d.fromRevision ?? '-').padEnd(4)}  ${String(d.toRevision).padEnd(2)}  ${d.state.padEnd(11)}  ${d.startedAt.padEnd(24)}  ${d.actor}${d.error ? `\n              ${d.error}` : ''}`,
          );
        }
        return 0;
      },
    ),
  );
}
