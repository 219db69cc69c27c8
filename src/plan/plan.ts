import { planReplace } from './replace.js';
import { planRolling } from './rolling.js';
import type { Plan, PlanInput, Step } from './types.js';

/** Computes the steps of a deploy. Pure: same input, same plan. */
export function plan(input: PlanInput): Plan {
  const steps = input.strategy.type === 'replace' ? planReplace(input) : planRolling(input);
  return { service: input.service, deployment: input.deployment, revision: input.revision, steps };
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
  }
}
