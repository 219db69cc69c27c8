import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { action, client, type Io, stdio } from '../context.js';

export function registerStop(program: Command, io: Io = stdio): void {
  program
    .command('stop')
    .description('drain and stop every instance of a service and close its listener')
    .argument('<service>')
    .option('--json', 'print as JSON')
    .action(
      action(async (service: string, opts: { json?: boolean }, cmd: Command) => {
        const r = await client(cmd).json<{ service: string; stopped: number }>(
          'POST',
          `/v1/services/${encodeURIComponent(service)}/stop`,
          {
            actor: `cli:${userInfo().username}`,
          },
        );
        io.out(
          opts.json
            ? JSON.stringify({ ok: true, ...r }, null, 2)
            : `${r.service}: stopped ${r.stopped} instance(s)`,
        );
        return 0;
      }),
    );
}
