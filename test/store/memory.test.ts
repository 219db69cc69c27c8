import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { runStoreContract } from './store.contract.js';

runStoreContract('MemoryStore', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});
