import { ConflictError, DriverError } from '../../core/errors.js';
import { checkKey, checkPrefix, toJson } from '../check.js';
import type { Entry, LogRecord, Store } from '../store.js';

/**
 * An in-memory Store with the same semantics as SqliteStore (global revision sequence, JSON copies of
 * values, plain prefix listing in key order). The fake for engine tests.
 */
export class MemoryStore implements Store {
  private readonly kv = new Map<string, { json: string; revision: number }>();
  private readonly logs = new Map<string, { seq: number; at: string; json: string }[]>();
  private sequence = 0;
  private closed = false;

  async get<T>(key: string): Promise<Entry<T> | undefined> {
    this.check(key);
    const cur = this.kv.get(key);
    return cur && { key, value: JSON.parse(cur.json) as T, revision: cur.revision };
  }

  async create<T>(key: string, value: T): Promise<number> {
    this.check(key);
    const json = toJson(key, value);
    const cur = this.kv.get(key);
    if (cur) throw new ConflictError(key, null, cur.revision);
    return this.put(key, json);
  }

  async update<T>(key: string, value: T, expected: number): Promise<number> {
    this.check(key);
    const json = toJson(key, value);
    const cur = this.kv.get(key);
    if (cur?.revision !== expected) throw new ConflictError(key, expected, cur?.revision ?? null);
    return this.put(key, json);
  }

  async delete(key: string, expected?: number): Promise<void> {
    this.check(key);
    const cur = this.kv.get(key);
    if (expected !== undefined && cur?.revision !== expected) {
      throw new ConflictError(key, expected, cur?.revision ?? null);
    }
    this.kv.delete(key);
  }

  async list<T>(prefix: string): Promise<Entry<T>[]> {
    this.open();
    checkPrefix(prefix);
    return [...this.kv]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, cur]) => ({ key, value: JSON.parse(cur.json) as T, revision: cur.revision }));
  }

  async append<T>(log: string, value: T): Promise<number> {
    this.check(log, 'log name');
    const json = toJson(log, value);
    let records = this.logs.get(log);
    if (!records) {
      records = [];
      this.logs.set(log, records);
    }
    const seq = records.length + 1;
    records.push({ seq, at: new Date().toISOString(), json });
    return seq;
  }

  async read<T>(log: string, opts: { from?: number; limit?: number } = {}): Promise<LogRecord<T>[]> {
    this.check(log, 'log name');
    const from = Math.max(1, Math.floor(opts.from ?? 1));
    const records = (this.logs.get(log) ?? []).slice(from - 1);
    const page = opts.limit === undefined ? records : records.slice(0, Math.max(0, Math.floor(opts.limit)));
    return page.map((r) => ({ seq: r.seq, at: r.at, value: JSON.parse(r.json) as T }));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private put(key: string, json: string): number {
    this.sequence += 1;
    this.kv.set(key, { json, revision: this.sequence });
    return this.sequence;
  }

  private check(key: string, what?: string): void {
    this.open();
    checkKey(key, what);
  }

  private open(): void {
    if (this.closed) throw new DriverError('memory', 'store is closed');
  }
}
