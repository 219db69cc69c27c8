import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { reply } from './forward.js';
import { rawReply } from './upgrade.js';

/** A request (with `res`) or an upgrade (with `socket` and `head`) waiting in `hold` mode. */
export interface Held {
  req: IncomingMessage;
  res?: ServerResponse | undefined;
  socket?: Duplex | undefined;
  head?: Buffer | undefined;
}

interface Entry extends Held {
  timer: NodeJS.Timeout;
  gone: () => void;
}

/**
 * Requests waiting for the route to serve again, in arrival order. Their bodies stay unread (the
 * request stream is paused, TCP pushes back), so nothing is lost; a client that leaves is forgotten;
 * one waiting longer than `maxMs` gets a 503.
 */
export class HoldQueue {
  private readonly entries = new Set<Entry>();

  get size(): number {
    return this.entries.size;
  }

  hold(held: Held, maxMs: number): void {
    const e = held as Entry;
    const conn = held.res ?? held.socket!;
    e.gone = () => this.forget(e);
    e.timer = setTimeout(() => {
      this.forget(e);
      const body = `baton: request held longer than ${maxMs}ms\n`;
      if (e.res) reply(e.res, 503, 'held-too-long', body);
      else rawReply(e.socket!, '503 Service Unavailable', 'held-too-long', body);
    }, maxMs);
    const socket = held.socket;
    if (socket) socket.on('error', () => socket.destroy());
    conn.once('close', e.gone);
    held.req.pause();
    this.entries.add(e);
  }

  /** Every waiting request in arrival order; the queue is empty afterwards. */
  take(): Held[] {
    const out = [...this.entries];
    for (const e of out) this.forget(e);
    return out;
  }

  private forget(e: Entry): void {
    if (!this.entries.delete(e)) return;
    clearTimeout(e.timer);
    (e.res ?? e.socket!).off('close', e.gone);
  }
}
