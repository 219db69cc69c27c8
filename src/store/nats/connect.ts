import { readFileSync } from 'node:fs';
import {
  type Authenticator,
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from '@nats-io/transport-node';
import { AccessError, InputError, UnavailableError } from '../../core/errors.js';

/**
 * How a client proves itself to NATS and checks the server: a `.creds` file (NKEY/JWT), a user and
 * password, or a token; and the CA of a private TLS certificate. From flags and the environment
 * (`natsAuthFromEnv`), so agents and the CLI take the same ones.
 */
export interface NatsAuth {
  credsFile?: string | undefined;
  user?: string | undefined;
  pass?: string | undefined;
  token?: string | undefined;
  /** PEM of the CA that signed the servers' certificates; TLS is required when given. */
  tlsCaFile?: string | undefined;
}

export interface NatsConnectOptions {
  /** One URL or several (`nats://host:4222`); with several, the client fails over between them. */
  servers: string | string[];
  /** How long the first connection may take (default 5 s). */
  timeoutMs?: number;
  /** A name the servers show for this client (monitoring, `nats server report connections`). */
  name?: string;
  auth?: NatsAuth | undefined;
}

/** `--nats-creds`, `--nats-tls-ca` (or BATON_NATS_CREDS, BATON_NATS_TLS_CA); user, password, token from env. */
export function natsAuthFromEnv(
  flags: { natsCreds?: string | undefined; natsTlsCa?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): NatsAuth {
  return {
    credsFile: flags.natsCreds ?? env.BATON_NATS_CREDS,
    tlsCaFile: flags.natsTlsCa ?? env.BATON_NATS_TLS_CA,
    user: env.BATON_NATS_USER,
    pass: env.BATON_NATS_PASSWORD,
    token: env.BATON_NATS_TOKEN,
  };
}

function authOptions(auth: NatsAuth): Partial<NodeConnectionOptions> {
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new InputError(`${flag} ${file}: ${(err as Error).message}`);
    }
  };
  const authenticators: Authenticator[] = [];
  if (auth.credsFile) authenticators.push(credsAuthenticator(read('--nats-creds', auth.credsFile)));
  if (auth.user) authenticators.push(usernamePasswordAuthenticator(auth.user, auth.pass ?? ''));
  if (auth.token) authenticators.push(tokenAuthenticator(auth.token));
  if (authenticators.length > 1)
    throw new InputError(
      'NATS credentials: give one of --nats-creds, BATON_NATS_USER/BATON_NATS_PASSWORD or BATON_NATS_TOKEN',
    );
  return {
    ...(authenticators[0] ? { authenticator: authenticators[0] } : {}),
    ...(auth.tlsCaFile ? { tls: { ca: read('--nats-tls-ca', auth.tlsCaFile).toString('utf8') } } : {}),
  };
}

const TLS_TRUST =
  /self[- ]signed|unable to verify|unable to get (local )?issuer|certificate has expired|altnames|CERT_/i;

/**
 * Connects to NATS for the store, the governor and the registry. Reconnects forever once connected
 * (a restarted or failed-over server is not fatal to a long-running agent); a first connection that
 * cannot be made says why, naming the servers: refused credentials (exit 3), an untrusted certificate or
 * an unreachable server (exit 3) — never a hang.
 */
export async function connectNats(opts: NatsConnectOptions): Promise<NatsConnection> {
  const servers = Array.isArray(opts.servers) ? opts.servers : [opts.servers];
  const extra = authOptions(opts.auth ?? {});
  try {
    return await connect({
      servers,
      name: opts.name ?? 'baton',
      timeout: opts.timeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      // Fail over quickly: the servers of one cluster are all equally good.
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      ...extra,
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const at = servers.join(', ');
    if (/authori[sz]ation|authentication|permissions? violation/i.test(msg))
      throw new AccessError(
        'UNAUTHORIZED',
        `NATS at ${at} refused the credentials (${msg}): check --nats-creds, or BATON_NATS_USER/BATON_NATS_PASSWORD or BATON_NATS_TOKEN`,
      );
    if (TLS_TRUST.test(msg) || TLS_TRUST.test(String((e as { cause?: unknown }).cause ?? '')))
      throw new UnavailableError(
        `NATS at ${at} presented a certificate this client does not trust (${msg}): give its CA with --nats-tls-ca FILE (env BATON_NATS_TLS_CA)`,
        e,
      );
    if (/tls/i.test(msg) && !opts.auth?.tlsCaFile)
      throw new UnavailableError(
        `cannot reach NATS at ${at}: ${msg} (the server requires TLS: give its CA with --nats-tls-ca FILE)`,
        e,
      );
    throw new UnavailableError(`cannot reach NATS at ${at}: ${msg}`, e);
  }
}
