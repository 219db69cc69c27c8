import type { Command } from 'commander';
import { parseScope, ROLES } from '../../api/access.js';
import type { TokenInfo } from '../../api/token-book.js';
import { parseDuration } from '../../core/duration.js';
import { InputError } from '../../core/errors.js';
import { action, client, type Io, stdio } from '../context.js';

const DAY_MS = 86_400_000;

/** `90d`, `12h`, `30m`: a token's lifetime. */
function parseExpiry(text: string): number {
  const days = /^(\d+)d$/.exec(text.trim());
  const ms = days ? Number(days[1]) * DAY_MS : parseDuration(text);
  if (!ms) throw new InputError(`--expires: expected a duration such as 90d, 12h or 30m, found "${text}"`);
  return ms;
}

function printList(io: Io, tokens: TokenInfo[]): void {
  io.out(
    'NAME                  ROLE      SERVICES              CREATED                   LAST USED                 EXPIRES',
  );
  for (const t of tokens)
    io.out(
      `${t.name.padEnd(20)}  ${t.role.padEnd(8)}  ${t.services.join(',').padEnd(20)}  ${t.createdAt.padEnd(24)}  ${(t.lastUsedAt ?? '-').padEnd(24)}  ${t.expiresAt ?? 'never'}`,
    );
}

/** `baton token create|list|revoke`: named API tokens with a role and a service scope (an admin's job). */
export function registerToken(program: Command, io: Io = stdio): void {
  const token = program.command('token').description('named API tokens: a role and a service scope each');
  token
    .command('create')
    .description('make a token; its secret is printed once and never again')
    .argument('<name>')
    .requiredOption('--role <role>', `what it may do: ${ROLES.join(' | ')}`)
    .option('--services <globs>', 'services it may see and act on, e.g. "team-a-*,web" (default: all)')
    .option('--expires <duration>', 'lifetime, e.g. 90d (default: never)')
    .option('--json', 'print as JSON')
    .action(
      action(
        async (
          name: string,
          opts: { role: string; services?: string; expires?: string; json?: boolean },
          cmd: Command,
        ) => {
          if (!(ROLES as readonly string[]).includes(opts.role))
            throw new InputError(`--role: expected one of ${ROLES.join(', ')}, found "${opts.role}"`);
          const body = {
            name,
            role: opts.role,
            ...(opts.services !== undefined ? { services: parseScope(opts.services) } : {}),
            ...(opts.expires !== undefined ? { expiresInMs: parseExpiry(opts.expires) } : {}),
          };
          const r = await client(cmd).json<{ secret: string; token: TokenInfo }>('POST', '/v1/tokens', body);
          if (opts.json) io.out(JSON.stringify(r, null, 2));
          else {
            const t = r.token;
            io.out(
              `token ${t.name}: role ${t.role}, services ${t.services.join(',')}${t.expiresAt ? `, expires ${t.expiresAt}` : ''}`,
            );
            io.out(r.secret);
            io.out('(shown once: store it now; use it with --token or BATON_TOKEN)');
          }
          return 0;
        },
      ),
    );
  token
    .command('list')
    .description('every named token: role, scope, created, last used, expiry (never the secret)')
    .option('--json', 'print as JSON')
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const { tokens } = await client(cmd).json<{ tokens: TokenInfo[] }>('GET', '/v1/tokens');
        if (opts.json) io.out(JSON.stringify({ tokens }, null, 2));
        else printList(io, tokens);
        return 0;
      }),
    );
  token
    .command('revoke')
    .description('delete a token: refused from its next request on')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action(
      action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
        const r = await client(cmd).json<{ token: TokenInfo }>(
          'DELETE',
          `/v1/tokens/${encodeURIComponent(name)}`,
        );
        io.out(opts.json ? JSON.stringify({ ok: true, ...r }, null, 2) : `revoked token ${r.token.name}`);
        return 0;
      }),
    );
}
