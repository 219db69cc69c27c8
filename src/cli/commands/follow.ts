import type { Command } from 'commander';
import type { DeployEvent } from '../../engine/events.js';
import { action, client, type Io, stdio } from '../context.js';
import { progressPrinter } from '../progress.js';

/**
 * `baton follow SERVICE`: waits for the next (or the running) deploy of SERVICE, whoever started it,
 * and prints its progress as `baton deploy` does, from the control plane's event stream (the one the
 * dashboard follows). Exits with the deploy's outcome: 0 when it succeeded, 1 when it failed.
 */
export function registerFollow(program: Command, io: Io = stdio): void {
  program
    .command('follow')
    .description(
      "print the progress of SERVICE's next or running deploy, whoever started it; exit with its outcome",
    )
    .argument('<service>')
    .option('--json', 'print each event as a JSON line on stdout')
    .action(
      action(async (service: string, opts: { json?: boolean }, c: Command) => {
        // Made at the deploy's first event, so the result line's duration is the deploy's as `deploy` shows it.
        let print: ((e: DeployEvent) => void) | undefined;
        let ok = false;
        await client(c).events(`/v1/events?service=${encodeURIComponent(service)}`, (name, data) => {
          if (name === 'ready') {
            if (!opts.json) io.err(`following ${service}: waiting for a deploy`);
            return false;
          }
          if (name !== 'deploy') return false;
          const e = (data as { event: DeployEvent }).event;
          if (opts.json) io.out(JSON.stringify(e));
          else {
            print ??= progressPrinter(io.err);
            print(e);
          }
          if (e.type !== 'result') return false;
          ok = e.ok;
          return true;
        });
        return ok ? 0 : 1;
      }),
    );
}
