import { createLogger, silentLogger } from '../../../src/core/logger.js';
import { Deployer, type DeployResult } from '../../../src/engine/deployer.js';
import type { EngineDeps } from '../../../src/engine/deps.js';
import { recoverInterrupted } from '../../../src/engine/recover.js';
import { createMultiRouter, type RouterOptions } from '../../../src/router/create.js';
import { createMultiRuntime, type RuntimeOptions } from '../../../src/runtime/create.js';
import type { ServiceSpec } from '../../../src/spec/schema.js';
import { openStore } from '../../../src/store/open.js';
import { Repo } from '../../../src/store/repo.js';
import type { Store } from '../../../src/store/store.js';
import { type DiesAfter, Mortal } from './mortal.js';

/** The cloud side of a control plane: its drivers' options, their clients cut by `m`. */
export type CloudDrivers = (m: Mortal) => Omit<RuntimeOptions & RouterOptions, 'dataDir' | 'logger'>;

/**
 * One `baton serve` as the daemon builds it (src/api/daemon.ts: store file of the data dir, multi
 * runtime and router with the stored revisions' kinds brought up and the serving routers bound), in this
 * process, over its own store connection and its own cloud clients — all of them cut when it dies.
 */
export class ControlPlane {
  readonly mortal = new Mortal();
  readonly deps: EngineDeps;
  readonly deployer: Deployer;
  private readonly store: Store;

  private constructor(dataDir: string, drivers: CloudDrivers) {
    this.store = openStore(dataDir);
    // CRASH_LOG=1 shows what the control planes log (recovery errors).
    const logger = process.env.CRASH_LOG ? createLogger('crash', { level: 'warn' }) : silentLogger();
    const opts = { dataDir, logger, ...drivers(this.mortal) };
    this.deps = {
      repo: this.mortal.wrap(new Repo(this.store), 'repo'),
      runtime: createMultiRuntime(opts),
      router: createMultiRouter(opts),
      logger,
      holder: 'test control plane',
    };
    this.deployer = new Deployer(this.deps);
  }

  /** Starts a control plane over `dataDir` the way the daemon does, before it recovers anything. */
  static async start(dataDir: string, drivers: CloudDrivers): Promise<ControlPlane> {
    const cp = new ControlPlane(dataDir, drivers);
    const { repo, runtime, router } = cp.deps;
    const multiRuntime = runtime as ReturnType<typeof createMultiRuntime>;
    const multiRouter = router as ReturnType<typeof createMultiRouter>;
    for (const s of await repo.listServices()) {
      const revisions = await repo.listRevisions(s.name);
      for (const r of revisions) multiRuntime.use(r.spec.runtime);
      const serving = revisions.find((r) => r.number === s.current) ?? revisions[0];
      if (serving) multiRouter.bind(s.name, serving.spec.traffic.router);
    }
    return cp;
  }

  /** What the daemon does next: finish or roll back what a dead control plane left; waits for both. */
  async recover(): Promise<void> {
    await Promise.all(await recoverInterrupted(this.deps, this.deployer));
  }

  deploy(service: string, spec: ServiceSpec): Promise<DeployResult> {
    return this.deployer.deploy({ service, spec, actor: 'tester' }, () => undefined);
  }

  /**
   * Deploys with this control plane dying right after it journals `step` in `phase` (as the daemon's
   * BATON_TEST_KILL_AT does) or right after the cloud or store call `after` picks. Resolves with 'died'
   * once it is dead, or with the deploy's result when the deploy ended first (no such step).
   */
  async deployAndDie(
    service: string,
    spec: ServiceSpec,
    kill: { step: number; phase: 'begin' | 'done' } | { after: DiesAfter },
  ): Promise<'died' | DeployResult> {
    const m = this.mortal;
    m.dieAfter(
      'after' in kill
        ? kill.after
        : (method, args) => {
            const e = args[1] as { step?: number; phase?: string } | undefined;
            return method === 'journal' && e?.step === kill.step && e.phase === kill.phase;
          },
    );
    const deploying = this.deploy(service, spec);
    // A dead control plane's deploy never settles: race it against the death.
    let poll: NodeJS.Timeout | undefined;
    const died = new Promise<'died'>((resolve) => {
      poll = setInterval(() => m.dead && resolve('died'), 5);
    });
    try {
      return await Promise.race([deploying, died]);
    } finally {
      clearInterval(poll);
    }
  }

  /** Stops a live control plane (a dead one only lets go of its store connection). */
  async close(): Promise<void> {
    if (!this.mortal.dead) {
      await this.deps.runtime.close();
      await this.deps.router.close();
    }
    await this.store.close();
  }
}
