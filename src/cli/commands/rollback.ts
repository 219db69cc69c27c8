import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { InputError } from '../../core/errors.js';
import type { DeployEvent } from '../../engine/events.js';
import { action, type Io, stdio } from '../context.js';
import { envClient, envOption } from '../environment.js';
import { progressPrinter } from '../progress.js';

export function registerRollback(program: Command, io: Io = stdio): void {
  envOption(
    program
      .command('rollback')
      .description('deploy an earlier revision again (default: the one before the current)')
      .argument('<service>')
      .option('--to <revision>', 'revision number to roll back to')
      .option('--json', 'print the result as JSON'),
  ).action(
    action(
      async (
        service: string,
        opts: { to?: string; json?: boolean; env?: string; file: string },
        cmd: Command,
      ) => {
        const to = opts.to === undefined ? undefined : Number(opts.to);
        if (to !== undefined && (!Number.isInteger(to) || to < 1))
          throw new InputError(`--to expects a revision number, got "${opts.to}"`);
        const last = await (await envClient(cmd, opts)).stream<DeployEvent>(
          'POST',
          `/v1/services/${encodeURIComponent(service)}/rollback`,
          { ...(to !== undefined ? { to } : {}), actor: `cli:${userInfo().username}` },
          opts.json ? () => undefined : progressPrinter(io.err),
        );
        if (opts.json) io.out(JSON.stringify(last, null, 2));
        return last?.type === 'result' && last.ok ? 0 : 1;
      },
    ),
  );
}
