import { join } from 'node:path';

/** Where the proxy keeps its files under a data dir. */
export interface ProxyPaths {
  dir: string;
  socket: string;
  pid: string;
  state: string;
  log: string;
}

export function proxyPaths(dataDir: string): ProxyPaths {
  const dir = join(dataDir, 'proxy');
  return {
    dir,
    socket: join(dir, 'admin.sock'),
    pid: join(dir, 'proxy.pid'),
    state: join(dir, 'state.json'),
    log: join(dir, 'proxy.log'),
  };
}

/** Splits `host:port` (`[::1]:80`, `:80` = all interfaces). Returns undefined when malformed. */
export function parseListen(listen: string): { host: string; port: number } | undefined {
  const i = listen.lastIndexOf(':');
  if (i < 0) return undefined;
  let host = listen.slice(0, i);
  const port = Number(listen.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? '0.0.0.0' : host, port };
}
