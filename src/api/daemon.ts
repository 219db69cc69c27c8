import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AcmeSettings } from '../certs/acme-settings.js';
import { startCertificates } from '../certs/daemon-certificates.js';
import type { AwsClients } from '../cloud/aws/clients.js';
import type { OciClients } from '../cloud/oci/clients.js';
import { BatonError, InputError } from '../core/errors.js';
import { securePrivateTree } from '../core/private-state.js';
import { EventHub } from '../dashboard/event-hub.js';
import { Sampler } from '../dashboard/sampler.js';
import { ServiceControl } from '../engine/control.js';
import { Deployer } from '../engine/deployer.js';
import type { EngineDeps } from '../engine/deps.js';
import { recoverInterrupted } from '../engine/recover.js';
import { Supervisor } from '../engine/supervisor.js';
import { nodeMetrics } from '../metrics/control-plane.js';
import { listenMetrics, type MetricsListener, parseMetricsListen } from '../metrics/metrics-server.js';
import { Notifier } from '../notify/notifier.js';
import { createMultiRouter } from '../router/create.js';
import { adoptRunningProxy } from '../router/proxy/handoff/client.js';
import { ensureProxy } from '../router/proxy/launch.js';
import type { Router } from '../router/router.js';
import { createMultiRuntime } from '../runtime/create.js';
import { openStore } from '../store/open.js';
import { Repo } from '../store/repo.js';
import { lazyAwsClients } from './aws.js';
import { dryDriversFor } from './dry-drivers.js';
import { checkListen, parseListen } from './listen.js';
import { lazyOciClients, ociSettingsFromEnv } from './oci.js';
import { dataPaths } from './paths.js';
import { watchProxy } from './proxy-watchdog.js';
import { createApiServer } from './server.js';
import { TokenBook } from './token-book.js';

export interface ServeOptions {
  dataDir: string;
  /** host:port; port 0 picks a free one (written to api.json). */
  listen: string;
  logger: Logger;
  version: string;
  /** Hoist's purge of stray labelled containers: how often it runs, and the age it spares. */
  purge?: { intervalMs?: number | undefined; minAgeMs?: number | undefined } | undefined;
  /** OCI clients (tests: the fake's); default from BATON_OCI_* on first need (src/api/oci.ts). */
  ociClients?: (() => OciClients) | undefined;
  /** AWS clients (tests); default from the SDK's chain and BATON_AWS_* on first need (src/api/aws.ts). */
  awsClients?: (() => AwsClients) | undefined;
  /** PEM files: the API speaks HTTPS. Required to listen beyond loopback, unless `insecureListen`. */
  tls?: { certFile: string; keyFile: string } | undefined;
  insecureListen?: boolean | undefined;
  /** How often the dashboard's charts read the proxy's counters (default 2 s). */
  sampleIntervalMs?: number | undefined;
  /** `--metrics-listen HOST:PORT`: GET /metrics there without a token (the API's /metrics needs one). */
  metricsListen?: string | undefined;
  /** The embedded proxy's HTTP listener (`--http-listen`): ACME challenges and redirects to https. */
  httpListen?: string | undefined;
  /** ACME for `tls: auto` (`--acme-*`); default: Let's Encrypt production, no contact address. */
  acme?: AcmeSettings | undefined;
}

export interface RunningDaemon {
  url: string;
  close(): Promise<void>;
}

/** `BATON_TEST_KILL_AT=<step>:<begin|done>`: the crash-safety tests' fault injection. */
function faultsFromEnv(): Pick<EngineDeps, 'faults'> {
  const m = /^(\d+):(begin|done)$/.exec(process.env.BATON_TEST_KILL_AT ?? '');
  return m ? { faults: { killAt: { step: Number(m[1]), phase: m[2] as 'begin' | 'done' } } } : {};
}

/** `BATON_SAMPLE_INTERVAL_MS`: the dashboard's sampling period (tests shorten it). */
function sampleIntervalFromEnv(): number | undefined {
  const ms = Number(process.env.BATON_SAMPLE_INTERVAL_MS);
  return Number.isInteger(ms) && ms >= 100 ? ms : undefined;
}

/** Reads the token, creating it (0600) on first start. */
export function ensureToken(path: string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const token = randomBytes(24).toString('base64url');
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return token;
}

function readTls(files: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new InputError(`${flag} ${file}: ${(err as Error).message}`);
    }
  };
  return { cert: read('--tls-cert', files.certFile), key: read('--tls-key', files.keyFile) };
}

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** Another control plane on this data dir that still answers is an error, not something to fight. */
async function refuseSecondDaemon(apiFile: string): Promise<void> {
  if (!existsSync(apiFile)) return;
  try {
    const { url, pid } = JSON.parse(readFileSync(apiFile, 'utf8')) as { url: string; pid: number };
    process.kill(pid, 0);
    const r = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(1000) });
    if (r.ok) throw new InputError(`a control plane (pid ${pid}) already serves this data dir at ${url}`);
  } catch (err) {
    if (err instanceof BatonError) throw err;
  }
}

/**
 * `baton serve`: the control plane. Starts the embedded proxy if it is not running, adopts the
 * instances that outlived a previous control plane, finishes interrupted deploys, supervises, and
 * serves the API. Stopping it leaves instances and the proxy running: traffic does not depend on it.
 */
export async function serve(opts: ServeOptions): Promise<RunningDaemon> {
  // Bad flags change nothing: checked before the data dir, the proxy or the store are touched.
  checkListen(opts.listen, { tls: Boolean(opts.tls), insecure: Boolean(opts.insecureListen) });
  const metricsAt = opts.metricsListen && parseMetricsListen('--metrics-listen', opts.metricsListen);
  const tls = opts.tls && readTls(opts.tls);
  const paths = dataPaths(opts.dataDir);
  const { logger } = opts;
  // Owner-only whatever existed before (refused when another user owns it), before anything is written.
  const tightened = securePrivateTree(paths.root);
  if (tightened.length)
    logger.warn(
      { dataDir: paths.root, paths: tightened },
      'state files were readable by others: made owner-only',
    );
  await refuseSecondDaemon(paths.api);
  const token = ensureToken(paths.token);
  const proxy = await ensureProxy(paths.root);
  if (!proxy.started) await adoptRunningProxy(paths.root, logger);
  logger.info(
    { pid: proxy.pid, started: proxy.started },
    proxy.started ? 'started the embedded proxy' : 'embedded proxy already running',
  );

  const store = openStore(paths.root);
  const repo = new Repo(store);
  // Each service's instances run on the runtime its spec names; the kinds stored revisions use are
  // brought up now so their instances are adopted (others, e.g. docker, only when first deployed).
  const services = await Promise.all(
    (await repo.listServices()).map(async (s) => ({ s, revisions: await repo.listRevisions(s.name) })),
  );
  const ociClients = opts.ociClients ?? lazyOciClients(() => ociSettingsFromEnv());
  // OCI instances are found by tag in compartments: those every stored revision names.
  const ociCompartments = [
    ...new Set(
      services.flatMap(({ revisions }) =>
        revisions.flatMap((r) => (r.spec.runtime === 'oci' ? [r.spec.containerInstance.compartmentId] : [])),
      ),
    ),
  ];
  const ecsClusters = [
    ...new Set(
      services.flatMap(({ revisions }) =>
        revisions.flatMap((r) => (r.spec.runtime === 'ecs' ? [r.spec.ecs.cluster] : [])),
      ),
    ),
  ];
  const awsClients = opts.awsClients ?? lazyAwsClients();
  const drivers = { dataDir: paths.root, logger, ociClients, awsClients, httpListen: opts.httpListen };
  const runtime = createMultiRuntime({
    ...drivers,
    purgeMinAgeMs: opts.purge?.minAgeMs,
    ociCompartments,
    ecsClusters,
  });
  // Likewise each service goes through the router its serving revision names (HAProxy, …).
  const liveRouters = new Map<string, Router>();
  const router = createMultiRouter({ ...drivers, made: liveRouters });
  for (const { s, revisions } of services) {
    try {
      for (const r of revisions) runtime.use(r.spec.runtime);
      const serving = revisions.find((r) => r.number === s.current) ?? revisions[0];
      if (serving) router.bind(s.name, serving.spec.traffic.router);
    } catch (err) {
      // E.g. OCI credentials missing: that service's deploys say so; the others are served.
      logger.warn(
        { service: s.name, err: (err as Error).message },
        'cannot bring up the drivers of a service',
      );
    }
  }
  const hub = new EventHub();
  const metrics = nodeMetrics(paths.root, () => runtime.list());
  const certs = startCertificates(paths.root, opts, logger);
  const deps: EngineDeps = {
    certs,
    observers: [metrics.observer, new Notifier({ logger }), hub.observer()],
    repo,
    runtime,
    router,
    logger,
    holder: `baton serve pid ${process.pid} on ${hostname()}`,
    dryRun: dryDriversFor({ ...drivers, ociCompartments, ecsClusters, liveRouters }),
    ...faultsFromEnv(),
  };
  const deployer = new Deployer(deps);
  const resumed = await recoverInterrupted(deps, deployer);
  if (resumed.length) logger.warn({ resumed: resumed.length }, 'resuming interrupted deploys');
  const supervisor = new Supervisor(deps, deployer, undefined, opts.purge?.intervalMs);
  supervisor.start();
  const watchdog = watchProxy(paths.root, logger);
  const sampler = new Sampler(
    {
      services: async () => (await repo.listServices()).filter((s) => !s.destroyed).map((s) => s.name),
      status: (name) => router.status(name),
    },
    { intervalMs: opts.sampleIntervalMs ?? sampleIntervalFromEnv() },
  );
  sampler.onPoint((service, point) => hub.publish({ kind: 'sample', service, point }));
  sampler.start();

  const server = createApiServer(
    {
      deps,
      deployer,
      control: new ServiceControl(deps, deployer),
      version: opts.version,
      tokens: new TokenBook(store),
      hub,
      sampler,
      metrics: metrics.scrape,
    },
    { localToken: token, tls },
  );
  const { host, port } = parseListen(opts.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  // Bound to every address: the local CLI comes in over loopback (which a certificate can name).
  const local = addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address === '::' ? '::1' : addr.address;
  const url = `${tls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${local}]` : local}:${addr.port}`;
  let metricsListener: MetricsListener | undefined;
  if (metricsAt) metricsListener = await listenMetrics(metrics.scrape, metricsAt, logger);
  writeAtomic(
    paths.api,
    `${JSON.stringify({ url, pid: process.pid, ...(metricsListener ? { metrics: metricsListener.address } : {}) })}\n`,
  );
  logger.info({ url, dataDir: paths.root }, 'control plane ready');

  return {
    url,
    async close() {
      await metricsListener?.close();
      await watchdog.stop();
      await sampler.stop();
      certs.stop();
      await supervisor.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deps.runtime.close();
      await deps.router.close();
      await store.close();
    },
  };
}
