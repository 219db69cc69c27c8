import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { DeployEvent } from '../../engine/events.js';
import { action, type Io, stdio } from '../context.js';
import { clusterFlags, envClient, envOption } from '../environment.js';
import { progressPrinter } from '../progress.js';
import { collect, selectServices } from '../spec-input.js';
import { deployClusterServices } from './cluster-deploy.js';
import { fetchPreviews, printPlan } from './plan.js';

type Result = Extract<DeployEvent, { type: 'result' }>;

export function registerDeploy(program: Command, io: Io = stdio): void {
  const cmd = program
    .command('deploy')
    .description('deploy SERVICE (or every service in the file) with no dropped request')
    .argument('[service]', 'service to deploy (default: all in the file)')
    .option('-f, --file <path>', 'spec file', 'baton.yaml')
    .option('--profile <name>', 'profile picked by !profile values')
    .option('--set <key=value>', 'override a value, e.g. services.web.replicas=3 (repeatable)', collect)
    .option('--dry-run', 'print the plan; change nothing')
    .option('--json', 'print the result as JSON on stdout')
    .option(
      '--cluster',
      'cluster mode: record the revision and make it desired in NATS; the agents roll it out',
    )
    .option('--nats <urls>', 'with --cluster: NATS server URL(s), comma-separated (env BATON_NATS)');
  envOption(cmd, 'none').action(
    action(
      async (
        service: string | undefined,
        opts: {
          file: string;
          profile?: string;
          set?: string[];
          dryRun?: boolean;
          json?: boolean;
          cluster?: boolean;
          nats?: string;
          env?: string;
        },
        cmd: Command,
      ) => {
        // Validation first: a bad file exits 2 before any daemon is contacted.
        const selected = await selectServices(opts, service);
        const cluster = await clusterFlags(opts);
        if (opts.cluster || cluster) return deployClusterServices(io, selected, { ...opts, ...cluster });
        const api = await envClient(cmd, opts);
        if (opts.dryRun) {
          const previews = await fetchPreviews(api, selected);
          if (opts.json) io.out(JSON.stringify({ ok: true, dryRun: true, plans: previews }, null, 2));
          else for (const p of previews) printPlan(io, p.service, p);
          return 0;
        }
        const results: Result[] = [];
        const print = opts.json ? () => undefined : progressPrinter(io.err);
        for (const s of selected) {
          const last = await api.stream<DeployEvent>(
            'POST',
            '/v1/deploy',
            {
              service: s.name,
              spec: s.spec,
              secretEnv: s.secretEnv,
              secretPaths: s.secretPaths,
              actor: `cli:${userInfo().username}`,
            },
            print,
          );
          if (last?.type !== 'result') {
            throw new Error(`the control plane ended the deploy of ${s.name} without a result`);
          }
          results.push(last);
          if (!last.ok) break;
        }
        const ok = results.every((r) => r.ok);
        if (opts.json) io.out(JSON.stringify({ ok, results }, null, 2));
        return ok ? 0 : 1;
      },
    ),
  );
}
