import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where a data dir keeps each file, in one place for the daemon and the CLI. */
export function dataPaths(dataDir: string) {
  const root = resolve(dataDir);
  return {
    root,
    token: join(root, 'token'),
    api: join(root, 'api.json'),
    daemonLog: join(root, 'baton.log'),
  };
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BATON_DATA_DIR) return env.BATON_DATA_DIR;
  const state = env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
  return join(state, 'baton');
}

export const DEFAULT_API = '127.0.0.1:7607';
