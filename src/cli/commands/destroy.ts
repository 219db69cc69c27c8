import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { InputError } from '../../core/errors.js';
import { action, client, type Io, stdio } from '../context.js';

/**
 * `baton destroy SERVICE --yes`: deploy-inst's delete-only. Asks for --yes because, unlike `stop`, it
 * also deletes what a cloud runtime made (container instances, load balancer backends).
 */
export function registerDestroy(program: Command, io: Io = stdio): void {
  program
    .command('destroy')
    .description('drain, then delete the backends and instances of a service and its route (history kept)')
    .argument('<service>')
    .option('--yes', 'confirm: this deletes instances (cloud ones too) and load balancer backends')
    .option('--json', 'print as JSON')
    .action(
      action(async (service: string, opts: { yes?: boolean; json?: boolean }, cmd: Command) => {
        if (!opts.yes)
          throw new InputError(
            `destroy deletes every instance and backend of ${service}; run again with --yes to confirm`,
          );
        const r = await client(cmd).json<{ service: string; removed: string[] }>(
          'POST',
          `/v1/services/${encodeURIComponent(service)}/destroy`,
          { actor: `cli:${userInfo().username}` },
        );
        io.out(
          opts.json
            ? JSON.stringify({ ok: true, ...r }, null, 2)
            : `${r.service}: destroyed (${r.removed.length} instance(s) removed; history kept)`,
        );
        return 0;
      }),
    );
}
