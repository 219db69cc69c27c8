import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** The store for a data directory: the embedded SQLite file (a NATS KV store joins in cluster mode). */
export function openStore(dataDir: string): Store {
  return SqliteStore.open(dataDir);
}
