import { DriverError } from '../../core/errors.js';
import { checkAnswer, runBatch } from './socket.js';
import { parseInfo, parseServerStats, type ServerStat } from './stat.js';

/** A runtime API command and the error answers that count as success for it (idempotent repeats). */
export interface Cmd {
  text: string;
  tolerate?: RegExp;
}

export const NO_SUCH_SERVER = /^No such server\./;
export const ALREADY_EXISTS = /^Already exists a server with the same name/;

/**
 * Every HAProxy instance Baton drives for the same traffic (one per node, say): each batch goes to all
 * of them, concurrently, each on its own connection. A failure on any instance fails the call (after all
 * have answered), naming the instance.
 */
export class Fleet {
  constructor(readonly sockets: string[]) {}

  /** Runs the batch on one instance; checks every answer unless `raw`. */
  async run(socket: string, cmds: Cmd[], raw = false): Promise<string[]> {
    if (cmds.length === 0) return [];
    const answers = await runBatch(
      socket,
      cmds.map((c) => c.text),
    );
    if (!raw)
      cmds.forEach((c, i) => {
        checkAnswer(socket, c.text, answers[i] ?? '', c.tolerate);
      });
    return answers;
  }

  /** Runs the batch on every instance; answers per socket. */
  async runAll(cmds: Cmd[] | ((socket: string) => Cmd[]), raw = false): Promise<Map<string, string[]>> {
    const results = await Promise.allSettled(
      this.sockets.map((s) => this.run(s, typeof cmds === 'function' ? cmds(s) : cmds, raw)),
    );
    const out = new Map<string, string[]>();
    const failed: unknown[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') out.set(this.sockets[i]!, r.value);
      else failed.push(r.reason);
    });
    if (failed.length === 1) throw failed[0];
    if (failed.length > 1)
      throw new DriverError('haproxy', failed.map((e) => (e as Error).message).join('; '), failed[0]);
    return out;
  }

  /** Server counters of `backend` on one instance. */
  async stats(socket: string, backend: string): Promise<Map<string, ServerStat>> {
    const [csv] = await this.run(socket, [{ text: `show stat ${backend} 4 -1` }], true);
    if (csv && !csv.startsWith('#')) checkAnswer(socket, `show stat ${backend} 4 -1`, csv);
    return parseServerStats(csv ?? '', backend);
  }

  /** Server counters of `backend` on every instance. */
  statsAll(backend: string): Promise<Map<string, ServerStat>[]> {
    return Promise.all(this.sockets.map((s) => this.stats(s, backend)));
  }

  /** `show info` of one instance (Pid, Uptime_sec…). */
  async info(socket: string): Promise<Record<string, string>> {
    const [text] = await this.run(socket, [{ text: 'show info' }], true);
    return parseInfo(text ?? '');
  }
}
