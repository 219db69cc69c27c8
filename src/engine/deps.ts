import type { Logger } from 'pino';
import type { Certificates } from '../certs/certificates.js';
import type { Router } from '../router/router.js';
import type { Runtime } from '../runtime/runtime.js';
import type { ServiceSpec } from '../spec/schema.js';
import type { Repo } from '../store/repo.js';
import type { DryDrivers } from './dry-run.js';
import type { EngineObserver } from './observer.js';

/** What the engine acts through. Passed in, never global, so tests swap in fakes. */
export interface EngineDeps {
  repo: Repo;
  runtime: Runtime;
  router: Router;
  logger: Logger;
  /** Who holds deploy locks taken by this engine, e.g. `baton serve pid 123 on host`. */
  holder: string;
  /** Test-only fault injection: SIGKILL this process right after journaling step `step` in `phase`. */
  faults?: { killAt?: { step: number; phase: 'begin' | 'done' } };
  /**
   * `baton plan`: dry-run drivers for a spec whose runtime and router can list the calls they would make
   * (oci, oci-lb); undefined for the others (their plan is the steps alone).
   */
  dryRun?: ((spec: ServiceSpec) => DryDrivers | undefined) | undefined;
  /** Metrics, notifications, the API's event stream: told what happens, never asked (observer.ts). */
  observers?: EngineObserver[] | undefined;
  /** Automatic certificates (`tls: auto`); absent where no daemon runs ACME (one-shot CLI, tests). */
  certs?: Certificates | undefined;
}
