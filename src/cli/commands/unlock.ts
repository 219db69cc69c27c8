import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { action, client, type Io, stdio } from '../context.js';

export function registerUnlock(program: Command, io: Io = stdio): void {
  program
    .command('unlock')
    .description("release a service's deploy lock by hand (when its holder is gone), showing who held it")
    .argument('<service>')
    .option('--json', 'print as JSON')
    .action(
      action(async (service: string, opts: { json?: boolean }, c: Command) => {
        const r = await client(c).json<{ released: { holder: string; since: string; deployment?: string } }>(
          'POST',
          `/v1/services/${encodeURIComponent(service)}/unlock`,
          { actor: `cli:${userInfo().username}` },
        );
        const h = r.released;
        io.out(
          opts.json
            ? JSON.stringify({ ok: true, ...r }, null, 2)
            : `${service}: released the lock held by ${h.holder} since ${h.since}${h.deployment ? ` (deployment ${h.deployment})` : ''}`,
        );
        return 0;
      }),
    );
}
