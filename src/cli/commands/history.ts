import type { Command } from 'commander';
import type { Deployment, Revision } from '../../core/types.js';
import { action, client, type Io, stdio } from '../context.js';

export function registerHistory(program: Command, io: Io = stdio): void {
  program
    .command('history')
    .description("a service's revisions and recent deployments")
    .argument('<service>')
    .option('--json', 'print as JSON')
    .option('--limit <n>', 'deployments to show', '10')
    .action(
      action(async (service: string, opts: { json?: boolean; limit: string }, cmd: Command) => {
        const h = await client(cmd).json<{
          current: number | null;
          revisions: Revision[];
          deployments: Deployment[];
        }>('GET', `/v1/services/${encodeURIComponent(service)}/history?limit=${Number(opts.limit) || 10}`);
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
        io.out('\nDEPLOYMENT    KIND      FROM  TO  STATE        STARTED                   BY');
        for (const d of h.deployments) {
          io.out(
            `${d.id.padEnd(12)}  ${d.kind.padEnd(8)}  ${String(d.fromRevision ?? '-').padEnd(4)}  ${String(d.toRevision).padEnd(2)}  ${d.state.padEnd(11)}  ${d.startedAt.padEnd(24)}  ${d.actor}${d.error ? `\n              ${d.error}` : ''}`,
          );
        }
        return 0;
      }),
    );
}
