import type { Command } from 'commander';
import { action, type Io, stdio } from '../context.js';
import { envClient, envOption } from '../environment.js';

export function registerLogs(program: Command, _io: Io = stdio): void {
  envOption(
    program
      .command('logs')
      .description("a service's instance output")
      .argument('<service>')
      .option('-f, --follow', 'keep streaming')
      .option('-n, --tail <lines>', 'lines of existing output per instance', '100'),
    'long',
  ).action(
    action(
      async (
        service: string,
        opts: { follow?: boolean; tail: string; env?: string; file: string },
        cmd: Command,
      ) => {
        const q = new URLSearchParams({
          tail: String(Number(opts.tail) || 0),
          ...(opts.follow ? { follow: '1' } : {}),
        });
        await (await envClient(cmd, opts)).text(
          `/v1/services/${encodeURIComponent(service)}/logs?${q}`,
          (s) => process.stdout.write(s),
        );
        return 0;
      },
    ),
  );
}
