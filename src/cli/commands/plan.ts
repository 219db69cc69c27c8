import type { Command } from 'commander';
import { CallLog, type PlannedCall } from '../../cloud/planned.js';
import { describeStep } from '../../plan/plan.js';
import type { Plan } from '../../plan/types.js';
import type { ApiClient } from '../client.js';
import { action, type Io, stdio } from '../context.js';
import { envClient, envOption } from '../environment.js';
import { collect, type SelectedService, selectServices } from '../spec-input.js';

/** The API calls of one step (step 0: the route), as the daemon's dry run recorded them. */
export interface PlannedStep {
  step: number;
  op: string;
  description: string;
  calls: PlannedCall[];
  note?: string | undefined;
}

export interface Preview {
  plan: Plan;
  current: number | null;
  revision: number;
  /** Cloud drivers (oci + oci-lb): every call the deploy would make; null for the others. */
  calls?: PlannedStep[] | null;
}

/** Asks the control plane what a deploy of each service would do. */
export async function fetchPreviews(
  api: ApiClient,
  selected: SelectedService[],
): Promise<Array<Preview & { service: string }>> {
  const out: Array<Preview & { service: string }> = [];
  for (const s of selected) {
    out.push({
      service: s.name,
      ...(await api.json<Preview>('POST', '/v1/deploy', {
        service: s.name,
        spec: s.spec,
        secretEnv: s.secretEnv,
        secretPaths: s.secretPaths,
        dryRun: true,
      })),
    });
  }
  return out;
}

export function printPlan(io: Io, service: string, p: Preview): void {
  io.out(
    `${service}: revision ${p.revision}${p.current ? ` would replace revision ${p.current}` : ' (first deploy)'}`,
  );
  if (p.plan.steps.length === 0) io.out('  nothing to change');
  if (p.calls) printCalls(io, p.calls);
  else for (const [i, s] of p.plan.steps.entries()) io.out(`  ${i + 1}. ${describeStep(s)}`);
}

/** Each step with the API calls it would make, one per line, in order (reads that find things are not listed). */
function printCalls(io: Io, steps: PlannedStep[]): void {
  for (const s of steps) {
    if (s.step === 0 && s.calls.length === 0) continue;
    io.out(`  ${s.step}. ${s.description}${s.note ? ` — ${s.note}` : ''}`);
    const log = new CallLog();
    for (const c of s.calls) log.add(c);
    for (const line of log.lines()) io.out(`       ${line}`);
  }
  const writes = steps.flatMap((s) => s.calls).filter((c) => c.method && c.method !== 'GET').length;
  io.out(`  ${writes} write(s) would be made; nothing was changed`);
}

export function registerPlan(program: Command, io: Io = stdio): void {
  const cmd = program
    .command('plan')
    .description('print the steps a deploy would take; change nothing')
    .argument('[service]', 'service (default: all in the file)')
    .option('-f, --file <path>', 'spec file', 'baton.yaml')
    .option('--profile <name>', 'profile picked by !profile values')
    .option('--set <key=value>', 'override a value (repeatable)', collect)
    .option('--json', 'print as JSON');
  envOption(cmd, 'none').action(
    action(
      async (
        service: string | undefined,
        opts: { file: string; profile?: string; set?: string[]; json?: boolean; env?: string },
        cmd: Command,
      ) => {
        const selected = await selectServices(opts, service);
        const api = await envClient(cmd, opts);
        const plans = await fetchPreviews(api, selected);
        if (opts.json) io.out(JSON.stringify({ ok: true, plans }, null, 2));
        else for (const p of plans) printPlan(io, p.service, p);
        return 0;
      },
    ),
  );
}
