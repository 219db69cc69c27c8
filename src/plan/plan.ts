import { planBlueGreen } from './blue-green.js';
import { planCanary } from './canary.js';
import { planReplace } from './replace.js';
import { planRolling } from './rolling.js';
import type { Plan, PlanInput, Step } from './types.js';

const MOVES_TRAFFIC: ReadonlySet<Step['op']> = new Set(['route', 'switch', 'split']);

/**
 * Places the configured hooks: `pre-deploy` before anything, `pre-switch` right before traffic first
 * moves to the new revision and `post-switch` right after. A plan with nothing to do runs no hook.
 */
export function withHooks(steps: Step[], hooks: PlanInput['hooks'] = []): Step[] {
  if (steps.length === 0 || hooks.length === 0) return steps;
  const has = new Set(hooks);
  const out: Step[] = has.has('pre-deploy') ? [{ op: 'hook', hook: 'pre-deploy' }] : [];
  let moved = false;
  for (const step of steps) {
    const first: boolean = !moved && MOVES_TRAFFIC.has(step.op);
    if (first && has.has('pre-switch')) out.push({ op: 'hook', hook: 'pre-switch' });
    out.push(step);
    if (first && has.has('post-switch')) out.push({ op: 'hook', hook: 'post-switch' });
    moved ||= first;
  }
  return out;
}

function strategySteps(input: PlanInput): Step[] {
  switch (input.strategy.type) {
    case 'replace':
      return planReplace(input);
    case 'rolling':
      return planRolling(input);
    case 'blue-green':
      return planBlueGreen(input);
    case 'canary':
      return planCanary(input);
  }
}

/** A host's first certificate comes before anything starts: a CA failure then leaves all as it was. */
export function withCertificates(steps: Step[], hosts: string[] = []): Step[] {
  if (steps.length === 0 || hosts.length === 0) return steps;
  return [{ op: 'certificate', hosts: [...hosts] }, ...steps];
}

/** Computes the steps of a deploy. Pure: same input, same plan. */
export function plan(input: PlanInput): Plan {
  return {
    service: input.service,
    deployment: input.deployment,
    revision: input.revision,
    steps: withCertificates(withHooks(strategySteps(input), input.hooks), input.certificates),
  };
}

export function describeStep(step: Step): string {
  const list = (ids: string[]) => ids.join(', ');
  switch (step.op) {
    case 'start':
      return `start ${step.instances.length} instance(s) of revision ${step.revision}: ${list(step.instances)}`;
    case 'await-healthy':
      return `wait until healthy: ${list(step.instances)}`;
    case 'route':
      return `add to router: ${list(step.instances)}`;
    case 'switch':
      return `switch traffic to: ${list(step.instances)}`;
    case 'drain':
      return `drain: ${list(step.instances)}`;
    case 'stop':
      return `stop: ${list(step.instances)}`;
    case 'hook':
      return `run the ${step.hook} hook`;
    case 'preview':
      return `preview revision ${step.revision} (no production traffic): ${list(step.instances)}`;
    case 'check':
      return `check: ${'http' in step.check ? `${step.check.http.method} ${step.check.http.url} expects ${step.check.http.status}${step.check.http.bodyContains ? ` and "${step.check.http.bodyContains}"` : ''}` : [step.check.command, ...step.check.args].join(' ')}`;
    case 'await-promotion':
      return step.autoMs === undefined
        ? 'wait for baton promote'
        : `promote in ${step.autoMs / 1000}s (or baton promote now)`;
    case 'split':
      return `send ${step.percent}% of requests to revision ${step.canary}, ${100 - step.percent}% to revision ${step.stable}`;
    case 'unsplit':
      return 'end the traffic split';
    case 'pause':
      return step.ms === undefined ? 'pause until baton promote' : `pause ${step.ms / 1000}s`;
    case 'judge':
      return 'wait for the canary analysis to promote';
    case 'certificate':
      return `obtain a certificate (ACME): ${list(step.hosts)}`;
    case 'linger':
      return `keep the previous set ${step.ms / 1000}s for an instant rollback: ${list(step.instances)}`;
  }
}
