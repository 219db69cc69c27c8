import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseDuration } from '../../core/duration.js';
import { InputError } from '../../core/errors.js';
import { upgradeProxy } from '../../router/proxy/handoff/client.js';
import type { HandoffStep } from '../../router/proxy/handoff/predecessor.js';
import { action, globals, type Io, stdio } from '../context.js';

interface UpgradeFlags {
  entry?: string;
  drainTimeout?: string;
  wait?: boolean;
  json?: boolean;
}

/** `baton proxy upgrade`: replaces the embedded proxy by this Baton's without a gap (docs/proxy.md). */
export function registerProxy(program: Command, io: Io = stdio): void {
  const proxy = program.command('proxy').description('the embedded proxy');
  proxy
    .command('upgrade')
    .description(
      "replace the running embedded proxy by this Baton's, passing it the listening sockets (no connection refused or cut)",
    )
    .option('--entry <file>', "the new proxy's entry script (default: this Baton's)")
    .option(
      '--drain-timeout <duration>',
      'how long the old proxy keeps open requests and WebSockets (default: the longest drain timeout of its routes)',
    )
    .option('--wait', 'return only once the old proxy has exited')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (opts: UpgradeFlags, cmd: Command) => {
        const { dataDir } = globals(cmd);
        let drainTimeoutMs: number | undefined;
        if (opts.drainTimeout !== undefined) {
          drainTimeoutMs = parseDuration(opts.drainTimeout);
          if (drainTimeoutMs === undefined)
            throw new InputError(
              `--drain-timeout: "${opts.drainTimeout}" is not a duration (500ms, 30s, 2m)`,
            );
        }
        const steps: HandoffStep[] = [];
        const started = Date.now();
        const r = await upgradeProxy(
          dataDir,
          {
            ...(opts.entry ? { entry: resolve(opts.entry) } : {}),
            ...(drainTimeoutMs === undefined ? {} : { drainTimeoutMs }),
            waitOld: opts.wait === true,
          },
          (s) => {
            steps.push(s);
            io.err(`  ${describe(s)} (+${Date.now() - started} ms)`);
          },
        );
        if (opts.json) {
          io.out(
            JSON.stringify(
              {
                ok: true,
                old: { pid: r.old.pid, version: r.old.version, exited: r.oldExited },
                new: { pid: r.pid },
                steps,
              },
              null,
              2,
            ),
          );
        } else {
          io.out(
            `proxy upgraded: pid ${r.old.pid} (Baton ${r.old.version}) -> pid ${r.pid}` +
              (r.oldExited
                ? '; the old proxy has exited'
                : '; the old proxy finishes what it has open, then exits'),
          );
        }
        return 0;
      }),
    );
}

function describe(s: HandoffStep): string {
  switch (s.step) {
    case 'spawned':
      return `new proxy pid ${s.pid} started with ${s.sockets.length} listening socket(s): ${s.sockets.join(', ') || 'none'}`;
    case 'ready':
      return `new proxy pid ${s.pid} (Baton ${s.version}) serves the snapshot${s.workers.length ? ` with workers ${s.workers.join(', ')}` : ''}`;
    case 'committed':
      return `new proxy pid ${s.pid} took over the admin socket`;
    case 'draining':
      return `old proxy pid ${s.pid} stopped accepting; finishing what is open (at most ${s.drainTimeoutMs} ms)`;
  }
}
