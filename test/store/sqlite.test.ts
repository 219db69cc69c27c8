import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { runStoreContract } from './store.contract.js';
import { tempDir } from './temp.js';

runStoreContract('SqliteStore', async () => {
  const { dir, remove } = tempDir();
  const store = SqliteStore.open(dir);
  const cleanup = async () => {
    await store.close();
    remove();
  };
  return { store, cleanup };
});
