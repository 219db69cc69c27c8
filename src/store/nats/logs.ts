import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type MsgRequest,
  PubHeaders,
  type StoredMsg,
} from '@nats-io/jetstream';
import { headers, nuid } from '@nats-io/transport-node';
import { bounded, isWrongLastSequence, type RetryOptions, withRetry } from './errors.js';

interface LogBody {
  seq: number;
  at: string;
  value: unknown;
}

const LOST = Symbol('lost the race');

/**
 * The store's append-only logs (deployment journals, the audit log) on one JetStream stream per store,
 * one subject per log: `baton.<bucket>.log.<name>`.
 *
 * Why a stream and not KV keys: a log is exactly what a stream is (ordered, append-only, replicated like
 * the bucket), and "append record n+1 only if record n is still the last one" is one publish with the
 * expected-last-subject-sequence header — the same compare-and-set the KV uses, so concurrent appenders
 * (two control planes, an agent and the CLI) never both get number n+1, and numbers have no gaps. The
 * stream's own sequence is shared by all logs, so each record carries its per-log number in its body.
 * Reading from record `from` first finds its stream sequence by binary search (each probe asks for the
 * log's first message at or after a stream sequence, `next_by_subj`), then reads on with an ordered
 * consumer filtered to the log's subject.
 */
export class NatsLogs {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly prefix: string,
    private readonly retry: RetryOptions,
    private readonly timeoutMs: number,
  ) {}

  /** Creates the logs stream if it does not exist yet (replicas as the bucket's). */
  static async ensure(
    jsm: JetStreamManager,
    stream: string,
    prefix: string,
    replicas: number,
  ): Promise<void> {
    try {
      await jsm.streams.info(stream);
    } catch (e) {
      if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
      await jsm.streams.add({
        name: stream,
        subjects: [`${prefix}.>`],
        num_replicas: replicas,
        // Two minutes (the default) is longer than any retry of a timed-out append (see `append`).
        duplicate_window: 120_000_000_000,
      });
    }
  }

  async append(log: string, json: string): Promise<number> {
    const subject = `${this.prefix}.${log}`;
    for (;;) {
      const last = await withRetry(`read the end of log ${log}`, this.retry, () => this.last(subject));
      const seq = (last ? (last.json<LogBody>().seq ?? 0) : 0) + 1;
      const body = `{"seq":${seq},"at":${JSON.stringify(new Date().toISOString())},"value":${json}}`;
      // One message id for every try of this record: a try that timed out but landed is answered
      // "duplicate" on the next try instead of being appended twice.
      const msgID = nuid.next();
      const won = await withRetry(`append to log ${log}`, this.retry, async () => {
        const h = headers();
        h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(last?.seq ?? 0));
        try {
          await this.js.publish(subject, body, { msgID, headers: h, timeout: this.timeoutMs });
          return true;
        } catch (e) {
          if (isWrongLastSequence(e)) return LOST;
          throw e;
        }
      });
      if (won === true) return seq;
      // Another writer appended record `seq` first: go again after it.
    }
  }

  async read(
    log: string,
    from: number,
    limit: number,
  ): Promise<{ seq: number; at: string; value: unknown }[]> {
    if (limit === 0) return [];
    const subject = `${this.prefix}.${log}`;
    return withRetry(`read log ${log}`, this.retry, async () => {
      const last = await this.last(subject);
      if (!last || last.json<LogBody>().seq < from) return [];
      const out: LogBody[] = [];
      const start = from <= 1 ? 1 : await this.locate(subject, from, last.seq);
      const consumer = await this.js.consumers.get(this.stream, {
        filter_subjects: subject,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: start,
      });
      const messages = await consumer.consume();
      try {
        await bounded(
          this.timeoutMs * 5,
          () => messages.stop(),
          async () => {
            for await (const m of messages) {
              const r = m.json<LogBody>();
              if (r.seq >= from) out.push(r);
              if (m.seq >= last.seq || out.length === limit) break;
            }
          },
        );
      } finally {
        await messages.close().catch(() => undefined);
      }
      return out.map(({ seq, at, value }) => ({ seq, at, value }));
    });
  }

  /**
   * The smallest stream sequence whose next message on the log's subject is record `from` or later
   * (record numbers grow with stream sequences; `lastSeq`, the log's last message, is one of them).
   */
  private async locate(subject: string, from: number, lastSeq: number): Promise<number> {
    let lo = 1;
    let hi = lastSeq;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      // nats-server 2.9 answers next_by_subj on STREAM.MSG.GET; nats.js types it for direct gets only.
      const query = { seq: mid, next_by_subj: subject } as unknown as MsgRequest;
      const m = await this.jsm.streams.getMessage(this.stream, query);
      if (m && m.json<LogBody>().seq >= from) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The log's last message, or null when it has none. */
  private last(subject: string): Promise<StoredMsg | null> {
    return this.jsm.streams.getMessage(this.stream, { last_by_subj: subject });
  }
}
