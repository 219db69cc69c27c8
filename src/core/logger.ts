import { destination, type Logger, pino } from 'pino';

/**
 * Daemon logs: JSON lines (pino) to stdout, or to a file when the daemon runs detached.
 * Env values never reach a log line: specs are logged by hash, and `env` fields are redacted.
 */
export function createLogger(name: string, opts: { level?: string; file?: string } = {}): Logger {
  const level = opts.level ?? process.env.BATON_LOG_LEVEL ?? 'info';
  const redact = {
    paths: ['*.env', '*.spec.env', 'spec.env', 'env', 'token', '*.token', 'headers.authorization'],
    censor: '[redacted]',
  };
  if (opts.file)
    return pino({ name, level, redact }, destination({ dest: opts.file, mkdir: true, sync: false }));
  return pino({ name, level, redact });
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
