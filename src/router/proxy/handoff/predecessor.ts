import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { DriverError } from '../../../core/errors.js';
import type { DrainResult, RouteStatus } from '../../router.js';
import type { Fleet } from '../fleet.js';
import type { Change } from '../ops.js';
import type { ProxyPaths } from '../paths.js';
import type { AdminSocket } from './admin-socket.js';
import { INHERIT_ENV } from './inherit.js';
import { type FromSuccessor, finish, Link, reason } from './link.js';
import { fleetSockets, ownSockets, type Passed, release } from './passed.js';
import { answerSuccessor } from './relay.js';

export type { FromSuccessor, ToSuccessor } from './link.js';

/**
 * Handing the proxy over to a new process (`baton proxy upgrade`) without closing a listening socket.
 *
 * Mechanism: the running proxy (the predecessor) starts its successor itself, as a detached child with an
 * IPC channel, and gives it every listening socket as an inherited file descriptor (stdio slots 4, 5, …;
 * the map address → descriptor in `BATON_PROXY_INHERIT`). With workers, the predecessor's primary first
 * gets the sockets from one of its workers as raw handles (node:cluster shares one socket per address, held
 * inside cluster's primary). The successor's workers then listen on those descriptors (node:cluster shares
 * them again, keyed by descriptor), so for a while both trees accept on the same sockets: the kernel's
 * accept queue is one per socket and is never closed, so no connection is refused or lost.
 * File descriptors over the admin unix socket would need SCM_RIGHTS, which Node offers only on an IPC
 * channel; and a parent-child channel also tells each side at once when the other dies.
 *
 * Steps (every admin change waits meanwhile, so the snapshot on disk is the state):
 *   spawned   successor started; the pid file names it (so a watchdog never starts a third proxy)
 *   ready     successor loaded the snapshot and its workers accept on the inherited sockets
 *   committed successor renamed its admin socket onto admin.sock (carrying the predecessor's counters)
 *   draining  predecessor stopped accepting; it finishes its requests and WebSockets (at most the drain
 *             timeout), sends its final counters to the successor and exits. Meanwhile the successor
 *             relays the admin changes that decide where requests go (`RELAYED`): requests held here
 *             are released to the instances the successor switched to.
 * Before `committed`, any failure (exit, no answer, a refused snapshot or address) kills the successor
 * and leaves the predecessor serving as before; it takes admin.sock and the pid file back.
 *
 * After `committed`, until it exits, the predecessor keeps its own copies of the listening sockets (the
 * raw handles its primary got from a worker) and watches its successor (its child). Its tree goes on
 * accepting for `PROBATION_MS` after the commit, next to the successor's, and only then stops accepting
 * and drains. If the successor dies meanwhile (SIGKILL right after it took over, a crash while the old
 * tree drains), the sockets stay open and the predecessor starts another successor from its own build
 * with the same sockets (`resumed`), so exactly one tree serves again: within the probation the old tree
 * serves all along (and drains only once the new successor serves); later, new connections wait in the
 * accept queue (none is refused) until the new successor serves. A successor that ends cleanly (exit 0:
 * stopped on purpose, or replaced by a handoff of its own) is not replaced. Once the predecessor exited, a
 * successor that dies is an ordinary proxy crash (the control plane's watchdog starts one from the
 * snapshot). A proxy serving in its own process (`--workers 0`) has no copy to keep: its listeners are its
 * sockets, so it cannot resume.
 */

export interface HandoffRequest {
  /** The successor's entry script (the new Baton's `router/proxy/main.js`). */
  entry: string;
  /** The node binary to run it with; defaults to this proxy's. */
  node?: string;
  /** How long the predecessor keeps what is open after the handoff. */
  drainTimeoutMs: number;
  /**
   * Fault injection for the crash-safety tests (like the daemon's BATON_TEST_KILL_AT): `<step>:old|new`
   * SIGKILLs this proxy or its successor right after that step.
   */
  killAt?: string;
}

export type HandoffStep =
  | { step: 'spawned'; pid: number; entry: string; sockets: string[] }
  | { step: 'ready'; pid: number; version: string; protocol: number; workers: number[] }
  | { step: 'committed'; pid: number }
  | { step: 'draining'; pid: number; drainTimeoutMs: number };

/** Successors of its own build the predecessor starts, at most, to replace one that died after committing. */
const RESUME_ATTEMPTS = 3;
/** How long the predecessor's tree still accepts after the successor committed (see `SuccessorWatch`). */
const PROBATION_MS = 2000;

/** A handoff as the admin API asks for it (the drain timeout defaults to the routes' longest). */
export type HandoffCall = Pick<HandoffRequest, 'entry'> & {
  drainTimeoutMs?: number | undefined;
  node?: string | undefined;
  killAt?: string | undefined;
};

/** What the handoff needs from the proxy handing over (its primary, or its only process). */
export interface HandingProxy {
  paths: ProxyPaths;
  log: Logger;
  admin: AdminSocket;
  /** Its workers, if the data path runs in worker processes. */
  fleet: Fleet | undefined;
  /** The successor's command line (after its entry script). */
  args: string[];
  /** Its listening sockets (a proxy serving in its own process). */
  listeners(): Array<{ listen: string; server: Server }>;
  /** Its counters (carried over to the successor). */
  totals(): Promise<RouteStatus[]>;
  /** Stops accepting and finishes what is open (at most `graceMs`): a proxy serving in its own process. */
  retire(graceMs: number): Promise<void>;
  /** From now on admin changes are refused. */
  handedOver(): void;
  /** A change the successor relays while this proxy drains (applied here only: nothing is written). */
  applyRelayed(change: Change): Promise<void>;
  /** What is still open here on these instances (the successor asks, see `Behind`). */
  waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult>;
  /** Drained and final counters sent: the process may exit. */
  replaced(): void;
}

/** The handoff's view of the predecessor. */
interface Predecessor extends HandingProxy {
  sockets(): Promise<Passed[]> | Passed[];
  /** The sockets stay open here after this proxy stops accepting (so it can start another successor). */
  keepsSockets: boolean;
  /** This proxy's own entry script (a successor that died after committing is replaced by this build). */
  ownEntry: string;
  drain(graceMs: number): Promise<void>;
}

function predecessor(p: HandingProxy): Predecessor {
  const { fleet } = p;
  return {
    ...p,
    sockets: () => (fleet ? fleetSockets(fleet) : ownSockets(p.listeners())),
    keepsSockets: fleet !== undefined,
    ownEntry: process.argv[1] ?? fileURLToPath(new URL('../main.js', import.meta.url)),
    drain: (ms) => (fleet ? fleet.retire(ms) : p.retire(ms)),
  };
}

export function successorArgs(
  opts: { dataDir: string; workers?: number | undefined; logLevel?: string | undefined },
  shutdownTimeoutMs: number,
): string[] {
  return [
    ...['--data-dir', opts.dataDir, '--workers', String(opts.workers ?? 0)],
    ...['--log-level', opts.logLevel ?? 'info', '--shutdown-timeout-ms', String(shutdownTimeoutMs)],
  ];
}

/**
 * The whole handoff: up to `committed` (throws, the predecessor serving as before, when the successor
 * does not get there), then `draining` in the background (a successor dying meanwhile is replaced, see
 * above), the final counters to whichever successor serves by then, and `replaced`.
 */
export async function handOver(
  proxy: HandingProxy,
  req: HandoffRequest,
  progress: (s: HandoffStep) => void,
): Promise<{ pid: number }> {
  const p = predecessor(proxy);
  const passed = await p.sockets();
  let child: ChildProcess;
  try {
    child = await handOff(p, req, passed, progress);
  } catch (e) {
    release(passed);
    throw e;
  }
  p.handedOver();
  progress({ step: 'draining', pid: process.pid, drainTimeoutMs: req.drainTimeoutMs });
  const watch = p.keepsSockets ? new SuccessorWatch(p, req, passed, child) : undefined;
  if (!p.keepsSockets) release(passed);
  // The old tree goes on accepting for a moment (the probation): a successor dying right after it took
  // over costs nothing then, since this tree still serves while another successor starts.
  void (watch ? watch.probation(PROBATION_MS) : Promise.resolve())
    .then(() => {
      if (req.killAt === 'draining:old') setTimeout(() => process.kill(process.pid, 'SIGKILL'), 100);
      return p.drain(req.drainTimeoutMs);
    })
    .then(async () => {
      p.log.info('handed off: what was open here is finished');
      const current = watch ? await watch.stop() : child;
      if (current) await finish(current, await p.totals());
    })
    .catch((e: unknown) => p.log.error({ err: e }, 'draining after the handoff failed'))
    .finally(() => {
      release(passed);
      p.replaced();
    });
  // `draining:old` fires once the workers were told to retire (above); `draining:new` within the probation.
  if (req.killAt === 'draining:new') setTimeout(() => child.kill('SIGKILL'), 100);
  return { pid: child.pid! };
}

/**
 * Watches the successor while the predecessor drains: one that dies is replaced by a successor of this
 * build, started with the sockets this process kept. `stop()` ends the watch and gives the successor
 * serving now (undefined if none could be started).
 */
class SuccessorWatch {
  private current: ChildProcess | undefined;
  private resuming: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly p: Predecessor,
    private readonly req: HandoffRequest,
    private readonly passed: Passed[],
    child: ChildProcess,
  ) {
    this.watch(child);
  }

  private watch(child: ChildProcess): void {
    this.current = child;
    child.once('exit', (code, signal) => {
      if (this.stopped || this.current !== child) return;
      this.current = undefined;
      if (code === 0) {
        // It ended on purpose (stopped with SIGTERM, or replaced by a handoff of its own): starting
        // another would undo the stop, or make a second tree beside its own successor.
        this.p.log.warn(
          { successor: child.pid },
          'the new proxy ended cleanly; this proxy only finishes draining',
        );
        return;
      }
      // At once, before anything else runs: a watchdog finding the pid file naming a dead proxy would
      // start a third one, which could not bind the addresses these sockets hold.
      writeFileSync(this.p.paths.pid, `${process.pid}\n`, { mode: 0o600 });
      this.p.log.error(
        { successor: child.pid, code, signal },
        'the new proxy died after taking over; starting another from this build with the same sockets',
      );
      this.resuming = this.resume();
    });
  }

  private async resume(): Promise<void> {
    for (let attempt = 1; attempt <= RESUME_ATTEMPTS && !this.stopped; attempt++) {
      try {
        const req: HandoffRequest = {
          entry: this.p.ownEntry,
          node: process.execPath,
          drainTimeoutMs: this.req.drainTimeoutMs,
        };
        const child = await handOff(this.p, req, this.passed, (s) =>
          this.p.log.info({ ...s }, `handoff (resumed): ${s.step}`),
        );
        this.p.log.warn({ successor: child.pid }, 'handoff resumed: a new proxy serves again');
        this.watch(child);
        return;
      } catch (e) {
        this.p.log.error({ err: e, attempt }, 'cannot start a proxy to replace the one that died');
      }
    }
  }

  /**
   * Resolves after `ms`, and once a successor serves again if the one there was died meanwhile (this
   * process accepts all along).
   */
  async probation(ms: number): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    await this.resuming;
  }

  async stop(): Promise<ChildProcess | undefined> {
    await this.resuming;
    this.stopped = true;
    return this.current;
  }
}

const READY_DEADLINE_MS = 60_000;
const COMMIT_DEADLINE_MS = 15_000;

/**
 * Runs the handoff up to `committed`; returns the successor.
 * Throws, with the predecessor serving as before, when the successor did not get there.
 */
async function handOff(
  p: Predecessor,
  req: HandoffRequest,
  passed: Passed[],
  progress: (s: HandoffStep) => void,
): Promise<ChildProcess> {
  const inherit = Object.fromEntries(passed.map((s, i) => [s.listen, 4 + i]));
  const logFd = openSync(p.paths.log, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(req.node ?? process.execPath, [req.entry, ...p.args, '--successor'], {
      detached: true,
      stdio: ['ignore', logFd, logFd, 'ipc', ...passed.map((s) => s.fd)],
      env: { ...process.env, [INHERIT_ENV]: JSON.stringify(inherit) },
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  const link = new Link(child);
  if (pid === undefined) throw await failed(p, child, link, `cannot start ${req.entry}`);
  child.unref();
  await writeFile(p.paths.pid, `${pid}\n`, { mode: 0o600 });
  p.log.info(
    { successor: pid, entry: req.entry, sockets: Object.keys(inherit) },
    'handoff: successor started',
  );
  progress({ step: 'spawned', pid, entry: req.entry, sockets: Object.keys(inherit) });
  fault(req, 'spawned', child);

  const ready = await link.next(READY_DEADLINE_MS);
  if (ready.t !== 'ready') throw await failed(p, child, link, reason(ready, READY_DEADLINE_MS));
  progress({ step: 'ready', pid, version: ready.version, protocol: ready.protocol, workers: ready.workers });
  fault(req, 'ready', child);

  link.send({ t: 'commit', carry: await p.totals() });
  const committed = await link.next(COMMIT_DEADLINE_MS);
  if (committed.t !== 'committed')
    throw await failed(p, child, link, reason(committed, COMMIT_DEADLINE_MS, 'before it took over'));
  p.log.info({ successor: pid }, 'handoff: successor committed; this proxy stops accepting');
  child.on('message', (m: FromSuccessor) => answerSuccessor(p, child, m));
  progress({ step: 'committed', pid });
  fault(req, 'committed', child);
  return child;
}

/** Undoes a handoff that did not commit; returns the error to throw. */
async function failed(p: Predecessor, child: ChildProcess, link: Link, why: string): Promise<DriverError> {
  if (!link.exited && child.pid !== undefined) {
    child.kill('SIGKILL');
    while (!link.exited) await link.next(5000);
  }
  await writeFile(p.paths.pid, `${process.pid}\n`, { mode: 0o600 });
  // The successor may have renamed its socket onto admin.sock just before it died.
  if (!(await p.admin.published())) await p.admin.republish();
  if (child.pid !== undefined) await removePrivateSockets(p.paths.socket, child.pid);
  const tail = (await readFile(p.paths.log, 'utf8').catch(() => ''))
    .split('\n')
    .filter((l) => l.includes(`"pid":${child.pid}`) || (!l.startsWith('{') && l.trim() !== ''))
    .slice(-5)
    .join('\n');
  p.log.error({ successor: child.pid, reason: why }, 'handoff failed; this proxy keeps serving');
  return new DriverError(
    'proxy',
    `the new proxy (pid ${child.pid ?? 'none'}) did not take over: ${why}; the running proxy (pid ${process.pid}) keeps serving` +
      (tail ? `\nsee ${p.paths.log}:\n${tail}` : ''),
  );
}

async function removePrivateSockets(socket: string, pid: number): Promise<void> {
  const prefix = `${basename(socket)}.${pid}-`;
  const names = await readdir(dirname(socket)).catch(() => [] as string[]);
  await Promise.all(
    names.filter((n) => n.startsWith(prefix)).map((n) => rm(join(dirname(socket), n), { force: true })),
  );
}

function fault(req: HandoffRequest, step: HandoffStep['step'], child: ChildProcess): void {
  if (req.killAt === `${step}:new`) child.kill('SIGKILL');
  if (req.killAt === `${step}:old`) process.kill(process.pid, 'SIGKILL');
}
