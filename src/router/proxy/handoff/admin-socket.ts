import { chmod, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { DriverError } from '../../../core/errors.js';
import { listenAdmin } from '../admin.js';
import { proxyHealth } from '../client.js';
import { runningProxyPid } from '../launch.js';
import type { ProxyPaths } from '../paths.js';

/**
 * The admin socket is bound at a private path and then renamed onto `admin.sock`, never bound there
 * directly: libuv unlinks the path a unix socket was bound at when it closes, so a proxy that bound
 * `admin.sock` itself would, when it exits after a handoff, delete its successor's socket. Renaming is
 * also what makes the handoff of the admin API atomic: a client connects to the old proxy or to the new.
 * The pid file goes with it: it names the proxy that answers on `admin.sock`.
 */
export class AdminSocket {
  private ino: number | undefined;
  private seq = 0;
  private privatePath: string | undefined;
  private readonly servers: Server[] = [];

  private readonly socket: string;

  constructor(
    private readonly make: () => Server,
    private readonly paths: ProxyPaths,
  ) {
    this.socket = paths.socket;
  }

  /** Refuses to start next to a live proxy (a successor is started by it instead); removes a stale file. */
  static async claim(paths: ProxyPaths): Promise<void> {
    const live = (await proxyHealth(paths.socket, 1000))?.pid ?? (await runningProxyPid(paths.pid));
    if (live !== undefined)
      throw new DriverError(
        'proxy',
        `another baton proxy (pid ${live}) is already running on ${paths.socket}`,
      );
    await rm(paths.socket, { force: true });
  }

  /** Listens at a private path beside `admin.sock` (owner-only). */
  async bind(): Promise<void> {
    const path = `${this.socket}.${process.pid}-${++this.seq}`;
    await rm(path, { force: true });
    const server = this.make();
    this.servers.push(server);
    await listenAdmin(server, path);
    await chmod(path, 0o600);
    this.privatePath = path;
  }

  /** Makes this proxy's socket the one at `admin.sock` (atomically replacing any other). */
  async publish(): Promise<void> {
    const path = this.privatePath;
    if (path === undefined) throw new Error('admin socket not bound');
    await rename(path, this.socket);
    this.ino = (await stat(this.socket)).ino;
    this.privatePath = undefined;
    await writeFile(this.paths.pid, `${process.pid}\n`, { mode: 0o600 });
  }

  /**
   * Binds a second listener of the same API and publishes it: the proxy takes `admin.sock` back after a
   * successor renamed its own socket there and then died.
   */
  async republish(): Promise<void> {
    if (this.privatePath === undefined) await this.bind();
    await this.publish();
  }

  /** True while `admin.sock` is the socket this proxy published. */
  async published(): Promise<boolean> {
    if (this.ino === undefined) return false;
    return (await stat(this.socket).catch(() => undefined))?.ino === this.ino;
  }

  /** Stops answering; removes `admin.sock` and the pid file if still this proxy's, and any private path. */
  async close(): Promise<void> {
    for (const s of this.servers) {
      s.close();
      s.closeAllConnections();
    }
    if (await this.published()) await unlink(this.socket).catch(() => {});
    if (this.privatePath) await rm(this.privatePath, { force: true });
    const pid = await readFile(this.paths.pid, 'utf8').catch(() => '');
    if (pid.trim() === String(process.pid)) await unlink(this.paths.pid).catch(() => {});
  }
}
