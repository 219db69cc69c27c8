import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temporary data directory and a function that removes it. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-store-'));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
