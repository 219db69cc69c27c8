import type { Command } from 'commander';
import type { ServiceStatus } from '../../api/status.js';
import type { CertStatus } from '../../certs/cert-manager.js';
import { action, type Io, stdio } from '../context.js';
import { clusterFlags, envClient, envOption } from '../environment.js';
import { natsOption } from './cluster-common.js';
import { clusterStatus, printClusterStatus } from './cluster-nodes.js';

/** A destroyed service has nothing to list but when it went and how to bring it back. */
function printDestroyed(io: Io, s: ServiceStatus & { destroyed: string }): void {
  const last = s.current != null ? `, last revision ${s.current}` : '';
  io.out(`${s.service}  destroyed at ${s.destroyed}${last}  (history kept; baton deploy brings it back)`);
  // Anything still listed was left behind by a destroy that did not finish, or started since.
  for (const i of s.instances)
    io.out(`  ${i.id}  r${i.revision}  ${i.state}  ${i.host}:${i.port}  left over`);
}

function printService(io: Io, s: ServiceStatus): void {
  if (s.destroyed && !s.deploying) {
    printDestroyed(io, { ...s, destroyed: s.destroyed });
    return;
  }
  const serving = s.instances.filter(
    (i) => i.state === 'running' && i.routed === 'active' && i.healthy,
  ).length;
  const deploying = s.deploying
    ? `deploying (${s.deploying}${s.paused ? ', paused' : ''}${s.waiting ? `, waiting for ${s.waiting}` : ''})`
    : undefined;
  const state = s.stopped ? 'stopped' : (deploying ?? (serving >= (s.replicas ?? 0) ? 'ok' : 'degraded'));
  io.out(
    `${s.service}  revision ${s.current ?? '-'}  ${serving}/${s.replicas ?? 0} serving  ${s.listen ?? ''}  ${state}`,
  );
  const revisions = new Set(s.instances.filter((i) => i.routed === 'active').map((i) => i.revision));
  if (s.split) {
    const weights = s.split.weights.map((w) => `${w.percent}% → r${w.revision}`).join(', ');
    io.out(`  split: ${weights}${s.split.sticky ? ' (sticky)' : ''}`);
  } else if (revisions.size > 1) {
    io.out(`  hybrid: traffic shared by instances of revisions ${[...revisions].sort().join(' and ')}`);
  }
  if (s.mode && s.mode.kind !== 'serve') io.out(`  traffic: ${s.mode.kind}`);
  if (s.lock) io.out(`  lock: ${s.lock.holder} since ${s.lock.since}`);
  for (const i of s.instances) {
    const health = i.healthy === null ? '' : i.healthy ? 'healthy' : 'unhealthy';
    io.out(
      `  ${i.id}  r${i.revision}  ${i.state}${i.pid ? ` pid ${i.pid}` : ''}  ${i.host}:${i.port}  ${i.routed}${health ? ` ${health}` : ''}  in-flight ${i.inFlight}${i.restarts ? `  restarts ${i.restarts}` : ''}`,
    );
  }
}

export function registerStatus(program: Command, io: Io = stdio): void {
  natsOption(
    envOption(
      program
        .command('status')
        .description('services, their revisions and instances')
        .argument('[service]')
        .option('--json', 'print as JSON')
        .option('--cluster', 'cluster mode: the desired revision and every node’s instances, from NATS'),
    ),
  ).action(
    action(
      async (
        service: string | undefined,
        opts: { json?: boolean; cluster?: boolean; nats?: string; env?: string; file: string },
        cmd: Command,
      ) => {
        const cluster = await clusterFlags(opts);
        if (opts.cluster || cluster) {
          const services = await clusterStatus({ ...opts, ...cluster }, service);
          if (opts.json) io.out(JSON.stringify({ services }, null, 2));
          else printClusterStatus(io, services);
          return 0;
        }
        const api = await envClient(cmd, opts);
        const all = service
          ? undefined
          : await api.json<{ services: ServiceStatus[]; certificates?: CertStatus[] }>('GET', '/v1/status');
        const services = all
          ? all.services
          : [await api.json<ServiceStatus>('GET', `/v1/services/${encodeURIComponent(service!)}`)];
        // Automatic certificates come with the whole status (for tokens that see every service).
        const certificates = all?.certificates;
        if (opts.json)
          io.out(JSON.stringify({ services, ...(certificates ? { certificates } : {}) }, null, 2));
        else if (services.length === 0) io.out('no services deployed yet (baton deploy)');
        else for (const s of services) printService(io, s);
        return 0;
      },
    ),
  );
}
