import { connect, type NatsConnection } from '@nats-io/transport-node';
import { UnavailableError } from '../../core/errors.js';

export interface NatsConnectOptions {
  /** One URL or several (`nats://host:4222`); with several, the client fails over between them. */
  servers: string | string[];
  /** How long the first connection may take (default 5 s). */
  timeoutMs?: number;
  /** A name the servers show for this client (monitoring, `nats server report connections`). */
  name?: string;
}

/**
 * Connects to NATS for the store, the governor and the registry. Reconnects forever once connected
 * (a restarted or failed-over server is not fatal to a long-running agent); a first connection that
 * cannot be made is an UnavailableError, so `baton` says "cannot reach NATS at …" rather than a stack.
 */
export async function connectNats(opts: NatsConnectOptions): Promise<NatsConnection> {
  const servers = Array.isArray(opts.servers) ? opts.servers : [opts.servers];
  try {
    return await connect({
      servers,
      name: opts.name ?? 'baton',
      timeout: opts.timeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      // Fail over quickly: the servers of one cluster are all equally good.
      reconnectTimeWait: 250,
      reconnectJitter: 100,
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new UnavailableError(`cannot reach NATS at ${servers.join(', ')}: ${msg}`, e);
  }
}
