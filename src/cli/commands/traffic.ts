import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { parseDuration } from '../../core/duration.js';
import { InputError } from '../../core/errors.js';
import { action, client, type Io, stdio } from '../context.js';

type ModeBody = { maintenance?: boolean; message?: string; hold?: boolean; maxMs?: number };

async function setMode(c: Command, service: string, body: ModeBody): Promise<{ mode: { kind: string } }> {
  return client(c).json('POST', `/v1/services/${encodeURIComponent(service)}/mode`, {
    ...body,
    actor: `cli:${userInfo().username}`,
  });
}

/** `baton maintenance`, `baton pause-traffic`, `baton resume-traffic`: what the proxy does with new requests. */
export function registerTraffic(program: Command, io: Io = stdio): void {
  program
    .command('maintenance')
    .description('serve a 503 maintenance page (on) or traffic again (off)')
    .argument('<service>')
    .argument('<on|off>')
    .option('--message <text>', 'body of the maintenance page')
    .action(
      action(async (service: string, state: string, opts: { message?: string }, c: Command) => {
        if (state !== 'on' && state !== 'off') throw new InputError(`expected on or off, got "${state}"`);
        const r = await setMode(
          c,
          service,
          state === 'on' ? { maintenance: true, ...(opts.message ? { message: opts.message } : {}) } : {},
        );
        io.out(`${service}: ${r.mode.kind}`);
        return 0;
      }),
    );
  program
    .command('pause-traffic')
    .description(
      'hold new requests (for a migration) until resume-traffic; held longer than --max they get a 503',
    )
    .argument('<service>')
    .option('--max <duration>', 'longest a request is held', '30s')
    .action(
      action(async (service: string, opts: { max: string }, c: Command) => {
        const maxMs = parseDuration(opts.max);
        if (maxMs === undefined || maxMs < 1)
          throw new InputError(`--max expects a duration such as 30s, got "${opts.max}"`);
        await setMode(c, service, { hold: true, maxMs });
        io.out(
          `${service}: holding new requests (at most ${opts.max} each); baton resume-traffic ${service} releases them`,
        );
        return 0;
      }),
    );
  program
    .command('resume-traffic')
    .description('release held requests and serve normally')
    .argument('<service>')
    .action(
      action(async (service: string, _opts: unknown, c: Command) => {
        await setMode(c, service, {});
        io.out(`${service}: serving`);
        return 0;
      }),
    );
}
