import type Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import type { Logger } from 'pino';
import { DriverError, NotFoundError } from '../../core/errors.js';
import { KeyedQueue } from '../../core/keyed-queue.js';
import type { Instance } from '../../core/types.js';
import type { LogOptions, PurgeTarget, Runtime, StartRequest } from '../runtime.js';
import { call, connectDocker, dockerEndpoint, statusOf } from './client.js';
import { containerOptions } from './container-options.js';
import { ensureImage } from './image.js';
import { instanceOf, LABEL, labelFilters, MANAGED_BY } from './labels.js';
import { containerLines } from './logs.js';
import { Marks } from './marks.js';
import { purgeUnmanaged } from './purge.js';

export interface DockerRuntimeOptions {
  /** `unix:///path` or `tcp://host:port` (default: `DOCKER_HOST`, else /var/run/docker.sock). */
  endpoint?: string;
  /** Label value scoping every container to one control plane (its data dir); also filters `list`. */
  owner?: string;
  /** Where the driver keeps what Docker does not record (stopped by Baton, restart counts). */
  stateDir?: string;
  logger?: Logger;
  /** Containers younger than this are never purged (default 30 s). */
  purgeMinAgeMs?: number;
}

/**
 * Runs instances as Docker containers over the Engine API. The container's name is the instance id and
 * its labels say whose it is, so `list` is a label query and a new DockerRuntime adopts what exists.
 * Docker restarts nothing (restart policy `no`): Baton's supervisor does.
 */
export class DockerRuntime implements Runtime {
  readonly kind = 'docker';
  readonly endpoint: string;
  private readonly docker: Docker;
  private readonly owner: string | undefined;
  private readonly marks: Marks;
  private readonly log: Logger | undefined;
  private readonly purgeMinAgeMs: number;
  private init: Promise<boolean> | undefined;
  private readonly queue = new KeyedQueue();

  constructor(opts: DockerRuntimeOptions = {}) {
    this.endpoint = dockerEndpoint(opts.endpoint);
    this.docker = connectDocker(this.endpoint);
    this.owner = opts.owner;
    this.marks = new Marks(opts.stateDir);
    this.log = opts.logger;
    this.purgeMinAgeMs = opts.purgeMinAgeMs ?? 30_000;
  }

  async start(req: StartRequest): Promise<Instance> {
    const spec = req.spec;
    if (spec.runtime !== 'docker')
      throw new DriverError('docker', `instance ${req.id}: not a docker service`);
    return this.locked(req.id, async () => {
      let info = await this.inspect(req.id);
      if (info?.State.Running) return this.view(info);
      if (!info) {
        await ensureImage(this.docker, spec, this.endpoint, this.log);
        const body = containerOptions(req, spec, { owner: this.owner, init: await this.initAvailable() });
        await this.call(`create container ${req.id}`, () => this.docker.createContainer(body)).catch(
          (err) => {
            // Created by a concurrent or earlier attempt: the same instance, started below.
            if (statusOf((err as Error).cause) !== 409) throw err;
          },
        );
      }
      await this.marks.set(req.id, { restarts: 0 });
      info = await this.startContainer(req.id);
      this.log?.info(
        { id: req.id, service: req.service, revision: req.revision, container: info.Id.slice(0, 12) },
        'container started',
      );
      return this.view(info);
    });
  }

  async list(service?: string): Promise<Instance[]> {
    const found = await this.call('list containers', () =>
      this.docker.listContainers({ all: true, filters: { label: labelFilters(this.owner, service) } }),
    );
    const infos = await Promise.all(found.map((c) => this.inspect(c.Id)));
    const mine = infos.filter((i): i is ContainerInspectInfo => i !== undefined && this.ours(i));
    const all = await Promise.all(mine.map((i) => this.view(i)));
    return all.sort((a, b) => a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<Instance | undefined> {
    const info = await this.inspect(id);
    return info && this.ours(info) ? this.view(info) : undefined;
  }

  /** Starts the container again under the same name; Docker may publish it on another host port. */
  async restart(id: string): Promise<Instance> {
    return this.locked(id, async () => {
      const info = await this.inspect(id);
      if (!info || !this.ours(info)) throw new NotFoundError(`instance ${id}`);
      if (info.State.Running)
        await this.stopContainer(id, (info.Config as { StopTimeout?: number }).StopTimeout ?? 10);
      await this.marks.update(id, (m) => ({ ...m, stopped: false, restarts: m.restarts + 1 }));
      return this.view(await this.startContainer(id));
    });
  }

  async stop(id: string, timeoutMs: number): Promise<void> {
    await this.locked(id, async () => {
      const info = await this.inspect(id);
      if (!info || !this.ours(info)) return;
      // Marked first, so an exit seen while stopping is not mistaken for a crash.
      await this.marks.update(id, (m) => ({ ...m, stopped: true }));
      if (info.State.Running || info.State.Paused || info.State.Restarting)
        await this.stopContainer(id, Math.max(1, Math.ceil(timeoutMs / 1000)));
    });
  }

  async remove(id: string): Promise<void> {
    await this.locked(id, async () => {
      const info = await this.inspect(id);
      if (info && this.ours(info)) {
        const mark = await this.marks.get(id);
        if (info.State.Running && !mark.stopped) {
          throw new DriverError('docker', `instance ${id} is running; stop it before removing it`);
        }
        await this.call(`remove container ${id}`, () =>
          this.docker.getContainer(id).remove({ force: true, v: true }),
        ).catch((err) => {
          const s = statusOf((err as Error).cause);
          if (s !== 404 && s !== 409) throw err; // 409: removal already in progress
        });
      }
      await this.marks.forget(id);
    });
  }

  async *logs(id: string, opts: LogOptions = {}): AsyncIterable<string> {
    const info = await this.inspect(id);
    if (!info || !this.ours(info)) throw new NotFoundError(`instance ${id}`);
    try {
      yield* containerLines(this.docker, info.Id, opts);
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw await this.call(`logs of ${id}`, () => Promise.reject(err)).catch((e: unknown) => e);
    }
  }

  /** Removes this control plane's containers that `keep` rejects (`purge: true` services). */
  async purge(keep: (target: PurgeTarget) => boolean): Promise<string[]> {
    return this.call('purge containers', () =>
      purgeUnmanaged(
        this.docker,
        (labels) =>
          (this.owner !== undefined && labels[LABEL.owner] !== this.owner) ||
          keep({ service: labels[LABEL.service] ?? '', revision: Number(labels[LABEL.revision] ?? 0) }),
        { minAgeMs: this.purgeMinAgeMs, logger: this.log },
      ),
    );
  }

  async close(): Promise<void> {
    await this.queue.idle();
  }

  /** Whether the daemon has an init binary (`docker-init`); without it, containers run without one. */
  initAvailable(): Promise<boolean> {
    this.init ??= this.call('read daemon info', () => this.docker.info()).then(
      (info: { InitCommit?: { ID?: string } }) => {
        // dockerd reports ID "N/A" when `docker-init --version` cannot run (Debian's docker.io ships it as tini).
        const ok = info.InitCommit?.ID !== 'N/A';
        if (!ok)
          this.log?.warn(
            { endpoint: this.endpoint },
            'docker-init is missing on the Docker host: containers run without an init process, so the app is PID 1 and must handle SIGTERM itself',
          );
        return ok;
      },
    );
    this.init.catch(() => {
      this.init = undefined;
    });
    return this.init;
  }

  private async startContainer(id: string): Promise<ContainerInspectInfo> {
    await this.call(`start container ${id}`, () => this.docker.getContainer(id).start()).catch((err) => {
      if (statusOf((err as Error).cause) !== 304) throw err; // 304: already running
    });
    const info = await this.inspect(id);
    if (!info) throw new DriverError('docker', `container ${id} disappeared while starting`);
    const port = (await this.view(info)).port;
    if (info.State.Running && port > 0) await this.marks.update(id, (m) => ({ ...m, port }));
    return info;
  }

  private async stopContainer(id: string, seconds: number): Promise<void> {
    await this.call(`stop container ${id}`, () => this.docker.getContainer(id).stop({ t: seconds })).catch(
      (err) => {
        const s = statusOf((err as Error).cause);
        if (s !== 304 && s !== 404) throw err; // 304: not running
      },
    );
  }

  private async inspect(id: string): Promise<ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(id).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      return this.call(`inspect container ${id}`, () => Promise.reject(err));
    }
  }

  private ours(info: ContainerInspectInfo): boolean {
    const labels = info.Config?.Labels ?? {};
    return (
      labels[LABEL.managedBy] === MANAGED_BY &&
      (this.owner === undefined || labels[LABEL.owner] === this.owner)
    );
  }

  private async view(info: ContainerInspectInfo): Promise<Instance> {
    const id = info.Config?.Labels?.[LABEL.instance] ?? info.Name.replace(/^\//, '');
    return instanceOf(info, await this.marks.get(id));
  }

  private call<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    return call(this.endpoint, doing, fn);
  }

  /** Runs `fn` after every earlier operation on the same id has finished. */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.queue.run(id, fn);
  }
}
