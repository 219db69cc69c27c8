import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { action, client, type Io, stdio } from '../context.js';

const VERBS = {
  promote:
    'let a waiting deployment go on (a pause, the promotion gate, an undecided analysis, the rollback window)',
  abort: 'stop a running deployment and roll it back; the previous revision keeps serving',
  pause: 'hold a running deployment before its next step',
  resume: 'let a paused deployment go on',
} as const;

/** `baton promote|abort|pause|resume SERVICE`: steer the deployment running for a service. */
export function registerControl(program: Command, io: Io = stdio): void {
  for (const [verb, description] of Object.entries(VERBS)) {
    const cmd = program
      .command(verb)
      .description(description)
      .argument('<service>')
      .option('--json', 'print as JSON');
    if (verb === 'abort') cmd.option('--reason <text>', 'recorded in history');
    cmd.action(
      action(async (service: string, opts: { json?: boolean; reason?: string }, c: Command) => {
        const r = await client(c).json<{ deployment: string }>(
          'POST',
          `/v1/services/${encodeURIComponent(service)}/${verb}`,
          {
            actor: `cli:${userInfo().username}`,
            ...(opts.reason ? { reason: opts.reason } : {}),
          },
        );
        io.out(
          opts.json
            ? JSON.stringify({ ok: true, ...r }, null, 2)
            : `${service}: ${verb} sent to deployment ${r.deployment}`,
        );
        return 0;
      }),
    );
  }
}
