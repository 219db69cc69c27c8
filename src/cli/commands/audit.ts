import type { Command } from 'commander';
import type { AuditRecord } from '../../store/repo.js';
import { action, client, type Io, stdio } from '../context.js';

export function registerAudit(program: Command, io: Io = stdio): void {
  program
    .command('audit')
    .description('who did what, when, and how it ended (newest first)')
    .argument('[service]')
    .option('--limit <n>', 'events to show', '50')
    .option('--json', 'print as JSON')
    .action(
      action(async (service: string | undefined, opts: { limit: string; json?: boolean }, cmd: Command) => {
        const q = new URLSearchParams({
          limit: String(Number(opts.limit) || 50),
          ...(service ? { service } : {}),
        });
        const { events } = await client(cmd).json<{ events: AuditRecord[] }>('GET', `/v1/audit?${q}`);
        if (opts.json) {
          io.out(JSON.stringify({ events }, null, 2));
          return 0;
        }
        for (const e of events) {
          const what = [
            e.action,
            e.service,
            e.revision !== undefined ? `r${e.revision}` : undefined,
            e.deployment,
          ]
            .filter(Boolean)
            .join(' ');
          io.out(
            `${e.at}  ${e.actor.padEnd(16)}  ${what.padEnd(40)}  ${e.result}${e.message ? `: ${e.message.split('\n')[0]}` : ''}`,
          );
        }
        return 0;
      }),
    );
}
