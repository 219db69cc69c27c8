import { connect, type Socket } from 'node:net';
import { DriverError, UnavailableError } from '../../core/errors.js';

/**
 * One HAProxy runtime API endpoint: a stats socket with `level admin`, either a unix socket path
 * (anything containing `/`) or `host:port` of a TCP `stats socket ipv4@…`.
 */
export type Endpoint = { path: string } | { host: string; port: number };

export function parseEndpoint(s: string): Endpoint {
  if (s.includes('/')) return { path: s };
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(s);
  if (!m) throw new DriverError('haproxy', `stats socket "${s}" is neither a socket path nor host:port`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTSOCK', 'EHOSTUNREACH']);
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Runs a batch of runtime API commands on ONE connection and returns one answer per command.
 *
 * Choice: a fresh connection per batch, in interactive (`prompt`) mode, with every command written at
 * once. Interactive mode keeps the connection open across commands and ends each answer with the `> `
 * prompt, so answers can be told apart (in the `cmd1;cmd2` form they run together, and an unknown command
 * closes the connection). All commands of a batch reach HAProxy in one write and run back to back, which
 * is as close to atomic as the runtime API gets. No persistent session: after a reload (`-W`, SIGUSR2) a
 * kept-open connection would still talk to the OLD worker, which is on its way out; a new connection
 * per batch always reaches the process that now owns the socket.
 */
export function runBatch(
  socket: string,
  commands: string[],
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<string[]> {
  for (const c of commands)
    if (/[\n;\\]/.test(c))
      throw new DriverError('haproxy', `refusing to send a command with ; \\ or newline: ${c}`);
  const ep = parseEndpoint(socket);
  return new Promise<string[]>((resolve, reject) => {
    let out = '';
    let done = false;
    const conn: Socket = 'path' in ep ? connect(ep.path) : connect(ep.port, ep.host);
    const finish = (err: Error | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) {
        reject(err);
        return;
      }
      // The stream is: <answer of prompt> "> " <answer 1> "> " … <answer n> "> " (quit closes it).
      const parts = out.split(/(?:^|\n)> /);
      const answers = parts.slice(1, commands.length + 1).map((s) => s.trim());
      if (answers.length !== commands.length) {
        reject(
          new DriverError(
            'haproxy',
            `${socket} answered ${answers.length} of ${commands.length} commands (${commands[answers.length]}): ${out.slice(-300).trim()}`,
          ),
        );
        return;
      }
      resolve(answers);
    };
    const timer = setTimeout(
      () =>
        finish(new UnavailableError(`haproxy stats socket ${socket} did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => {
      out += d;
    });
    conn.on('end', () => finish(undefined));
    conn.on('close', () => finish(undefined));
    conn.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EACCES')
        finish(
          new DriverError(
            'haproxy',
            `permission denied on stats socket ${socket}: run Baton as a user that may open it (see "stats socket … mode/user/group")`,
            e,
          ),
        );
      else if (e.code && UNREACHABLE.has(e.code))
        finish(new UnavailableError(`haproxy is not answering on stats socket ${socket} (${e.code})`, e));
      else finish(new DriverError('haproxy', `stats socket ${socket}: ${e.message}`, e));
    });
    conn.write(`prompt\n${commands.join('\n')}\nquit\n`);
  });
}

/** Answers of commands that changed something and went well. */
const OK = /^(|New server registered\.|Server deleted\.)$/;

/**
 * Turns an error answer of a command into a DriverError carrying HAProxy's message; `tolerate` lists
 * answers that count as success (an idempotent repeat: "No such server.", "Already exists …").
 */
export function checkAnswer(socket: string, command: string, answer: string, tolerate?: RegExp): void {
  if (OK.test(answer) || tolerate?.test(answer)) return;
  const first = answer.split('\n')[0] ?? answer;
  let hint = '';
  if (/^Permission denied/i.test(first))
    hint = ` — the stats socket needs "level admin" (stats socket ${socket} level admin)`;
  else if (/^Unknown command/.test(first)) hint = ' — this driver needs HAProxy 2.6 or later';
  else if (/dynamic load balancing/.test(first))
    hint =
      ' — dynamic servers need a dynamic "balance" algorithm: set "balance roundrobin" (or leastconn, first, random) in that backend instead of static-rr, source, uri, url_param, hdr, rdp-cookie or hash';
  throw new DriverError('haproxy', `${socket}: "${command}" failed: ${first}${hint}`);
}
