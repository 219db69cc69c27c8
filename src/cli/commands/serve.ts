import type { Command } from 'commander';
import { serve } from '../../api/daemon.js';
import { DEFAULT_API } from '../../api/paths.js';
import { resolveAcmeSettings } from '../../certs/acme-settings.js';
import { parseDuration } from '../../core/duration.js';
import { InputError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { parseListen } from '../../router/proxy/paths.js';
import { action, globals } from '../context.js';
import { VERSION } from '../version.js';

interface ServeFlags {
  listen: string;
  purgeInterval: string;
  purgeMinAge: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureListen?: boolean;
  metricsListen?: string;
  httpListen: string;
  acmeEmail?: string;
  acmeDirectory?: string;
  acmeCaFile?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the control plane (API, engine, supervisor); starts the embedded proxy if needed')
    .option('--listen <host:port>', 'API address (env BATON_API)', process.env.BATON_API ?? DEFAULT_API)
    .option('--tls-cert <file>', 'PEM certificate: the API speaks HTTPS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option(
      '--insecure-listen',
      'allow --listen beyond loopback without TLS (tokens cross the network in clear)',
    )
    .option(
      '--metrics-listen <host:port>',
      'also serve GET /metrics here, without a token (private networks)',
    )
    .option(
      '--http-listen <host:port>',
      "the proxy's HTTP listener for ACME challenges and redirects to https, opened with the first TLS service (env BATON_HTTP_LISTEN)",
      process.env.BATON_HTTP_LISTEN ?? '0.0.0.0:80',
    )
    .option('--acme-email <address>', 'contact address of the ACME account (env BATON_ACME_EMAIL)')
    .option(
      '--acme-directory <url>',
      'ACME directory for tls: auto (env BATON_ACME_DIRECTORY; default Let’s Encrypt production)',
    )
    .option(
      '--acme-ca-file <pem>',
      'extra CA trusted for the ACME directory’s HTTPS (env BATON_ACME_CA_FILE)',
    )
    .option('--purge-interval <duration>', 'how often stray labelled containers are purged', '10s')
    .option('--purge-min-age <duration>', 'containers younger than this are never purged', '30s')
    .action(
      action(async (opts: ServeFlags, cmd: Command) => {
        const { dataDir } = globals(cmd);
        if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey))
          throw new InputError('--tls-cert and --tls-key go together');
        if (!parseListen(opts.httpListen))
          throw new InputError(
            `--http-listen: expected host:port (e.g. 0.0.0.0:80), found "${opts.httpListen}"`,
          );
        const acme = resolveAcmeSettings(opts);
        const purge = {
          intervalMs: flagDuration('--purge-interval', opts.purgeInterval),
          minAgeMs: flagDuration('--purge-min-age', opts.purgeMinAge),
        };
        const logger = createLogger('baton');
        const daemon = await serve({
          dataDir,
          listen: opts.listen.replace(/^https?:\/\//, ''),
          logger,
          version: VERSION,
          purge,
          tls: opts.tlsCert && opts.tlsKey ? { certFile: opts.tlsCert, keyFile: opts.tlsKey } : undefined,
          insecureListen: opts.insecureListen,
          metricsListen: opts.metricsListen,
          httpListen: opts.httpListen,
          acme,
        });
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            logger.info({ signal }, 'stopping the control plane; instances and the proxy keep running');
            resolve();
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
        await daemon.close();
        // A deploy still running (a pause, a drain) would keep the process alive: it is journaled, and
        // the next start resumes or rolls it back, so leave now.
        process.exit(0);
      }),
    );
}

function flagDuration(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new InputError(`${flag}: expected a duration such as 500ms, 5s or 2m, found "${value}"`);
  return ms;
}
