import path from 'node:path';
import Database from 'better-sqlite3';
import { BatonError, ConflictError, DriverError } from '../../core/errors.js';
import { ensurePrivateDir, ensurePrivateFile, tighten } from '../../core/private-state.js';
import { checkKey, checkPrefix, toJson } from '../check.js';
import type { Entry, LogRecord, Store } from '../store.js';

/** How long a writer waits for another process's transaction before giving up. */
export const BUSY_TIMEOUT_MS = 5_000;

/**
 * Schema migrations, applied in order; `user_version` records how many ran. Revisions come from one
 * global sequence, so a key deleted and created again never repeats a revision a stale writer holds.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE seq (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
   INSERT INTO seq (id, value) VALUES (1, 0);
   CREATE TABLE log (log TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, value TEXT NOT NULL,
                     PRIMARY KEY (log, seq)) WITHOUT ROWID;`,
];

interface KvRow {
  key: string;
  value: string;
  revision: number;
}

interface LogRow {
  seq: number;
  at: string;
  value: string;
}

/** The embedded store: one SQLite file in WAL mode, shared by the control plane and CLI processes. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly sql;

  private constructor(db: Database.Database) {
    this.db = db;
    this.sql = {
      get: db.prepare<[string], KvRow>('SELECT key, value, revision FROM kv WHERE key = ?'),
      from: db.prepare<[string], KvRow>('SELECT key, value, revision FROM kv WHERE key >= ? ORDER BY key'),
      next: db.prepare<[], { value: number }>(
        'UPDATE seq SET value = value + 1 WHERE id = 1 RETURNING value',
      ),
      insert: db.prepare<[string, string, number]>('INSERT INTO kv (key, value, revision) VALUES (?, ?, ?)'),
      update: db.prepare<[string, number, string]>('UPDATE kv SET value = ?, revision = ? WHERE key = ?'),
      delete: db.prepare<[string]>('DELETE FROM kv WHERE key = ?'),
      append: db.prepare<[string, string, string, string], { seq: number }>(
        `INSERT INTO log (log, seq, at, value)
         SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ? FROM log WHERE log = ? RETURNING seq`,
      ),
      read: db.prepare<[string, number, number], LogRow>(
        'SELECT seq, at, value FROM log WHERE log = ? AND seq >= ? ORDER BY seq LIMIT ?',
      ),
    };
  }

  /** Opens (creating if needed) `<dataDir>/baton.db` and brings its schema up to date. */
  static open(dataDir: string): SqliteStore {
    const file = path.join(dataDir, 'baton.db');
    let db: Database.Database | undefined;
    try {
      ensurePrivateDir(dataDir);
      // Owner-only before SQLite opens it: the WAL and SHM it creates take the database file's mode, and
      // the WAL holds secret values in clear (and the store token hashes and the key of revision hashes). Ones left wider by an older Baton are narrowed.
      ensurePrivateFile(file);
      for (const side of ['-wal', '-shm', '-journal']) tighten(`${file}${side}`);
      db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma('journal_mode = WAL');
      migrate(db, file);
      return new SqliteStore(db);
    } catch (e) {
      db?.close();
      throw translate(e, `cannot open ${file}`);
    }
  }

  async get<T>(key: string): Promise<Entry<T> | undefined> {
    checkKey(key);
    const row = this.run(() => this.sql.get.get(key));
    return row && decode<T>(row);
  }

  async create<T>(key: string, value: T): Promise<number> {
    checkKey(key);
    const json = toJson(key, value);
    return this.write(() => {
      const cur = this.sql.get.get(key);
      if (cur) throw new ConflictError(key, null, cur.revision);
      const revision = this.nextRevision();
      this.sql.insert.run(key, json, revision);
      return revision;
    });
  }

  async update<T>(key: string, value: T, expected: number): Promise<number> {
    checkKey(key);
    const json = toJson(key, value);
    return this.write(() => {
      const cur = this.sql.get.get(key);
      if (cur?.revision !== expected) throw new ConflictError(key, expected, cur?.revision ?? null);
      const revision = this.nextRevision();
      this.sql.update.run(json, revision, key);
      return revision;
    });
  }

  async delete(key: string, expected?: number): Promise<void> {
    checkKey(key);
    this.write(() => {
      if (expected !== undefined) {
        const cur = this.sql.get.get(key);
        if (cur?.revision !== expected) throw new ConflictError(key, expected, cur?.revision ?? null);
      }
      this.sql.delete.run(key);
    });
  }

  async list<T>(prefix: string): Promise<Entry<T>[]> {
    checkPrefix(prefix);
    return this.run(() => {
      const out: Entry<T>[] = [];
      // Keys are ASCII, so SQLite's byte order is JS string order; the scan stops past the prefix.
      for (const row of this.sql.from.iterate(prefix)) {
        if (!row.key.startsWith(prefix)) break;
        out.push(decode<T>(row));
      }
      return out;
    });
  }

  async append<T>(log: string, value: T): Promise<number> {
    checkKey(log, 'log name');
    const json = toJson(log, value);
    const at = new Date().toISOString();
    return this.write(() => this.sql.append.get(log, at, json, log)!.seq);
  }

  async read<T>(log: string, opts: { from?: number; limit?: number } = {}): Promise<LogRecord<T>[]> {
    checkKey(log, 'log name');
    const from = Math.max(1, Math.floor(opts.from ?? 1));
    const limit = opts.limit === undefined ? -1 : Math.max(0, Math.floor(opts.limit));
    const rows = this.run(() => this.sql.read.all(log, from, limit));
    return rows.map((r) => ({ seq: r.seq, at: r.at, value: JSON.parse(r.value) as T }));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private nextRevision(): number {
    return this.sql.next.get()!.value;
  }

  /** A write transaction, taken IMMEDIATE so a concurrent writer waits on busy_timeout instead of failing. */
  private write<R>(fn: () => R): R {
    return this.run(() => this.db.transaction(fn).immediate());
  }

  private run<R>(fn: () => R): R {
    if (!this.db.open) throw new DriverError('sqlite', 'store is closed');
    try {
      return fn();
    } catch (e) {
      throw translate(e, 'query failed');
    }
  }
}

function decode<T>(row: KvRow): Entry<T> {
  return { key: row.key, value: JSON.parse(row.value) as T, revision: row.revision };
}

function migrate(db: Database.Database, file: string): void {
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  const check = (v: number): void => {
    if (v > MIGRATIONS.length) {
      throw new DriverError(
        'sqlite',
        `${file} has schema version ${v}; this Baton knows ${MIGRATIONS.length}`,
      );
    }
  };
  check(version());
  if (version() === MIGRATIONS.length) return;
  // Another process may be migrating too: decide again inside the write transaction.
  db.transaction(() => {
    const v = version();
    check(v);
    for (let i = v; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i]!);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

function translate(e: unknown, what: string): BatonError {
  if (e instanceof BatonError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new DriverError('sqlite', `${what}: ${msg}`, e);
}
