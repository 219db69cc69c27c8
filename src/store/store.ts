/**
 * Baton's state, as keys with compare-and-set writes plus append-only logs. The shape follows JetStream
 * KV (`create`, `update(key, value, revision)`) so a NATS implementation is a thin mapping; SQLite is the
 * embedded default. Keys are dot-separated tokens of [A-Za-z0-9_-] (valid NATS KV keys).
 */
export interface Entry<T> {
  key: string;
  value: T;
  /** Increases on every write of this key; pass it back to `update` to write only if unchanged. */
  revision: number;
}

export interface LogRecord<T> {
  seq: number;
  at: string;
  value: T;
}

export interface Store {
  get<T>(key: string): Promise<Entry<T> | undefined>;
  /** Writes only if the key does not exist; otherwise throws ConflictError. Returns the new revision. */
  create<T>(key: string, value: T): Promise<number>;
  /** Writes only if the key's revision is `expected`; otherwise throws ConflictError. */
  update<T>(key: string, value: T, expected: number): Promise<number>;
  /** Deletes; with `expected`, only if unchanged. Deleting a missing key is not an error without `expected`. */
  delete(key: string, expected?: number): Promise<void>;
  /** Entries whose key starts with `prefix`, in key order. */
  list<T>(prefix: string): Promise<Entry<T>[]>;
  /** Appends to a named log (journal, audit). Returns the record's sequence number within that log. */
  append<T>(log: string, value: T): Promise<number>;
  /** Records of a log in order, from sequence `from` (inclusive, default 1). */
  read<T>(log: string, opts?: { from?: number; limit?: number }): Promise<LogRecord<T>[]>;
  close(): Promise<void>;
}
