import type { Command } from 'commander';
import type { CertStatus } from '../../certs/cert-manager.js';
import { action, client, type Io, stdio } from '../context.js';

/** `baton certs`: the daemon's automatic certificates (names, issuer, expiry, last renewal error). */
export function registerCerts(program: Command, io: Io = stdio): void {
  program
    .command('certs')
    .description('automatic (ACME) certificates: names, issuer, expiry, renewal and last error')
    .option('--json', 'print as JSON')
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const { certificates } = await client(cmd).json<{ certificates: CertStatus[] }>('GET', '/v1/certs');
        if (opts.json) {
          io.out(JSON.stringify({ certificates }, null, 2));
          return 0;
        }
        if (!certificates.length) io.out('no automatic certificates');
        for (const c of certificates) {
          io.out(`${c.host}  ${c.state}  expires ${c.notAfter ?? '-'}  renew at ${c.renewAt ?? '-'}`);
          io.out(`  names ${c.names.join(', ') || '-'}; issuer ${c.issuer ?? '-'}`);
          if (c.lastRenewal) io.out(`  last renewal ${c.lastRenewal}`);
          if (c.lastError)
            io.out(`  last error (${c.lastErrorAt}): ${c.lastError}; next try ${c.nextAttemptAt ?? '-'}`);
        }
        return 0;
      }),
    );
}
