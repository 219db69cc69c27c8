import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { DriverError, NotFoundError } from '../../core/errors.js';
import { KeyedQueue } from '../../core/keyed-queue.js';
import { type Instance, InstanceState } from '../../core/types.js';
import type { LogOptions, Runtime, StartRequest } from '../runtime.js';
import { readLines } from './logs.js';
import { freePort, groupAlive, isAlive, pidsWithEnv, readStartTime, signalGroup } from './proc.js';
import { type InstanceRecord, RecordDir, SPAWN_TOKEN_ENV } from './records.js';
import { spawnDetached } from './spawn.js';

export interface ProcessRuntimeOptions {
  /** Where instance records live (`<id>.json`). */
  stateDir: string;
  /** Where each instance's stdout and stderr are appended (`<id>.log`). */
  logDir: string;
  logger?: Logger;
  /** Address instances listen on and are reached at (default 127.0.0.1). */
  host?: string;
}

const POLL_MS = 50;
/** An intent younger than this may be another runtime object's spawn under way: left alone. */
const INTENT_GRACE_MS = 10_000;
/** After SIGKILL, how long to wait for the group to disappear before giving up quietly. */
const KILL_GRACE_MS = 5000;

/**
 * Runs instances as local processes, each in its own process group (detached) so they outlive Baton.
 * Output goes to a log file by descriptor (no pipe to Baton), state to a JSON record per instance; a new
 * ProcessRuntime over the same directories adopts what is still running.
 */
export class ProcessRuntime implements Runtime {
  readonly kind = 'process';
  private readonly records: RecordDir;
  private readonly logDir: string;
  private readonly log: Logger | undefined;
  private readonly host: string;
  /** Children spawned by this object, by instance id (to reap them and learn their exit codes). */
  private readonly children = new Map<string, ChildProcess>();
  /** Exits seen by this object, by instance id; read synchronously so a list never misses a fresh exit. */
  private readonly exits = new Map<string, { pid: number; code: number | null; signal: string | null }>();
  private readonly queue = new KeyedQueue();
  /** Ids this object is spawning now (their intents are not leftovers). */
  private readonly intending = new Set<string>();

  constructor(opts: ProcessRuntimeOptions) {
    this.records = new RecordDir(opts.stateDir);
    this.logDir = opts.logDir;
    this.log = opts.logger;
    this.host = opts.host ?? '127.0.0.1';
  }

  async start(req: StartRequest): Promise<Instance> {
    return this.locked(req.id, async () => {
      const existing = await this.records.read(req.id);
      if (existing && existing.state === InstanceState.Running && this.alive(existing))
        return this.view(existing);
      const port = await freePort(this.host);
      const rec = await this.spawn({
        id: req.id,
        service: req.service,
        revision: req.revision,
        deployment: req.deployment,
        host: this.host,
        port,
        spec: req.spec,
        restarts: 0,
      });
      return this.view(rec);
    });
  }

  async list(service?: string): Promise<Instance[]> {
    await this.recoverIntents();
    const recs = await this.records.all((file, err) =>
      this.log?.warn({ file, err }, 'unreadable instance record'),
    );
    return recs.filter((r) => service === undefined || r.service === service).map((r) => this.view(r));
  }

  async get(id: string): Promise<Instance | undefined> {
    const rec = await this.records.read(id);
    return rec && this.view(rec);
  }

  async restart(id: string): Promise<Instance> {
    return this.locked(id, async () => {
      const rec = await this.records.read(id);
      if (!rec) throw new NotFoundError(`instance ${id}`);
      if (this.alive(rec) || groupAlive(rec.pid)) await this.terminate(rec, rec.spec.stopTimeout);
      const next = await this.spawn({ ...rec, restarts: rec.restarts + 1 });
      return this.view(next);
    });
  }

  async stop(id: string, timeoutMs: number): Promise<void> {
    await this.locked(id, async () => {
      const rec = await this.records.read(id);
      if (!rec) return;
      if (rec.state !== InstanceState.Stopped) {
        // Marked first, so an exit seen while stopping is not mistaken for a crash.
        await this.records.write({
          ...rec,
          state: InstanceState.Stopped,
          stoppedAt: new Date().toISOString(),
        });
      }
      await this.terminate(rec, timeoutMs);
    });
  }

  async remove(id: string): Promise<void> {
    await this.locked(id, async () => {
      const rec = await this.records.read(id);
      if (rec && this.alive(rec) && rec.state !== InstanceState.Stopped) {
        throw new DriverError(
          'process',
          `instance ${id} is running (pid ${rec.pid}); stop it before removing it`,
        );
      }
      await this.records.remove(id);
      this.forget(id);
    });
  }

  async *logs(id: string, opts: LogOptions = {}): AsyncIterable<string> {
    const file = this.logFile(id);
    // A removed instance keeps its log; an unknown one has neither.
    if (!(await this.records.read(id)) && !existsSync(file)) throw new NotFoundError(`instance ${id}`);
    yield* readLines(file, opts);
  }

  async close(): Promise<void> {
    for (const id of [...this.children.keys()]) this.forget(id);
    await this.queue.idle();
  }

  /** Spawns the command for `base` and writes its record; the caller holds the id's lock. */
  private async spawn(
    base: Omit<InstanceRecord, 'pid' | 'pidStartTime' | 'startedAt' | 'state'>,
  ): Promise<InstanceRecord> {
    const { id } = base;
    let rec: InstanceRecord | undefined;
    // The intent first: if Baton dies while the OS creates the process, it can still be found (list()).
    const token = randomUUID();
    this.intending.add(id);
    this.records.writeIntentSync({ base, token, at: Date.now() });
    // Recorded the moment the process exists (synchronously, before the spawn is even confirmed): if
    // Baton dies now, whoever reads the records (a restarted agent, a test's cleanup) still finds it.
    const target = { ...base, env: { [SPAWN_TOKEN_ENV]: token } };
    const spawned = spawnDetached(target, this.logFile(id), (pid) => {
      rec = {
        ...base,
        pid,
        pidStartTime: readStartTime(pid),
        startedAt: new Date().toISOString(),
        state: InstanceState.Running,
        exitCode: null,
        signal: null,
      };
      delete rec.stoppedAt;
      this.records.writeSync(rec);
      this.records.removeIntentSync(id);
    });
    const child = await spawned
      .catch(async (err: unknown) => {
        // It never ran: no record of it either.
        if (rec) await this.records.remove(id);
        this.records.removeIntentSync(id);
        throw err;
      })
      .finally(() => this.intending.delete(id));
    const pid = child.pid!;
    this.children.set(id, child);
    this.exits.delete(id);
    child.on('error', (err) => this.log?.warn({ id, pid, err }, 'instance process error'));
    child.once('exit', (code, signal) => this.onExit(id, child, code, signal));
    if (!rec) throw new Error(`instance ${id}: spawned without a pid`);
    this.log?.info(
      { id, service: rec.service, revision: rec.revision, pid, port: rec.port },
      'instance started',
    );
    return rec;
  }

  /**
   * Intents left by a Baton that died while spawning (older than INTENT_GRACE_MS, not this object's):
   * the process, found by its token, is recorded; an intent whose process never came is dropped.
   */
  private async recoverIntents(): Promise<void> {
    for (const it of await this.records.intents()) {
      const { id } = it.base;
      if (this.intending.has(id) || Date.now() - it.at < INTENT_GRACE_MS) continue;
      await this.locked(id, async () => {
        const [pid] = pidsWithEnv(`${SPAWN_TOKEN_ENV}=${it.token}`);
        if (pid !== undefined && (await this.records.read(id))?.pid !== pid) {
          await this.records.write({
            ...it.base,
            pid,
            pidStartTime: readStartTime(pid),
            startedAt: new Date(it.at).toISOString(),
            state: InstanceState.Running,
            exitCode: null,
            signal: null,
          });
          this.log?.warn({ id, pid }, 'recorded an instance whose start was interrupted');
        }
        this.records.removeIntentSync(id);
      });
    }
  }

  private onExit(id: string, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.children.get(id) !== child) return;
    const pid = child.pid!;
    this.children.delete(id);
    this.exits.set(id, { pid, code, signal });
    this.log?.info({ id, pid, code, signal }, 'instance exited');
    void this.locked(id, async () => {
      const rec = await this.records.read(id);
      if (!rec || rec.pid !== pid) return;
      const state = rec.state === InstanceState.Running ? InstanceState.Exited : rec.state;
      await this.records.write({ ...rec, state, exitCode: code, signal });
    }).catch((err) => this.log?.warn({ id, err }, 'cannot record instance exit'));
  }

  /** SIGTERM to the process group, wait, SIGKILL after `timeoutMs`. Works for adopted processes too (polls). */
  private async terminate(rec: InstanceRecord, timeoutMs: number): Promise<void> {
    // Only signal a group we know is ours: the leader still is the process we started, or it is gone and
    // its group lives on (a PID is not reused while its process group exists).
    const leaderOurs = this.alive(rec);
    if (!leaderOurs && (isAlive(rec.pid) || !groupAlive(rec.pid))) return;
    this.log?.info({ id: rec.id, pid: rec.pid, timeoutMs }, 'stopping instance');
    signalGroup(rec.pid, 'SIGTERM');
    if (await this.until(() => !groupAlive(rec.pid), timeoutMs)) return;
    this.log?.warn(
      { id: rec.id, pid: rec.pid, timeoutMs },
      'instance ignored SIGTERM; killing its process group',
    );
    signalGroup(rec.pid, 'SIGKILL');
    if (!(await this.until(() => !groupAlive(rec.pid), KILL_GRACE_MS))) {
      throw new DriverError('process', `instance ${rec.id}: process group ${rec.pid} survived SIGKILL`);
    }
  }

  private async until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (cond()) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  private alive(rec: InstanceRecord): boolean {
    const exit = this.exits.get(rec.id);
    if (exit && exit.pid === rec.pid) return false;
    // Our own child is dead once Node reaped it and said so ('exit', with its code): /proc shows it a
    // zombie a moment before, and a view taken then would report an exit without its code.
    if (this.children.get(rec.id)?.pid === rec.pid) return true;
    return isAlive(rec.pid, rec.pidStartTime);
  }

  /** The record as an Instance, with its observed state. */
  private view(rec: InstanceRecord): Instance {
    const exit = this.exits.get(rec.id);
    const ours = exit && exit.pid === rec.pid ? exit : undefined;
    let state = rec.state;
    if (state === InstanceState.Running && !this.alive(rec)) state = InstanceState.Exited;
    return {
      id: rec.id,
      service: rec.service,
      revision: rec.revision,
      deployment: rec.deployment,
      host: rec.host,
      port: rec.port,
      state,
      pid: rec.pid,
      exitCode: state === InstanceState.Running ? null : (ours?.code ?? rec.exitCode ?? null),
      signal: state === InstanceState.Running ? null : (ours?.signal ?? rec.signal ?? null),
      startedAt: rec.startedAt,
      restarts: rec.restarts,
    };
  }

  private forget(id: string): void {
    const child = this.children.get(id);
    child?.removeAllListeners('exit');
    child?.removeAllListeners('error');
    this.children.delete(id);
  }

  private logFile(id: string): string {
    this.records.file(id); // validates the id
    return path.join(this.logDir, `${id}.log`);
  }

  /** Runs `fn` after every earlier operation on the same id has finished. */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.queue.run(id, fn);
  }
}
