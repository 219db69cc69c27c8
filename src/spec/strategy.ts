import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { checkSchema } from './hooks.js';
import { countOrPercent, duration } from './primitives.js';

/**
 * What to do with a deploy that was running when the control plane died: `auto` rolls forward when
 * the new revision was already healthy and serving, else back; `forward` and `rollback` force one.
 */
const onInterrupt = z.enum(['auto', 'forward', 'rollback']).default('auto');

const canaryStep = z.union([
  /** Percent of new requests for the canary revision. */
  z.strictObject({ setWeight: z.number().int().min(0).max(100) }),
  /** Number of canary instances; the stable revision shrinks so the total stays `replicas`. */
  z.strictObject({ setInstances: z.number().int().min(0) }),
  /** Wait this long, or until `baton promote` with `{}`. */
  z.strictObject({ pause: z.union([duration('pause'), z.strictObject({})]) }),
  /** Run an external check; a failure aborts the canary. */
  z.strictObject({ check: checkSchema }),
]);
export type CanaryStepSpec = z.output<typeof canaryStep>;

const analysisSchema = z.strictObject({
  /** How often the judge compares the canary with the stable revision. */
  interval: duration('analysis.interval').default(DEFAULTS.analysisInterval),
  /** How long the judge may wait for enough traffic before it asks a human (the deploy pauses). */
  deadline: duration('analysis.deadline').default(DEFAULTS.analysisDeadline),
  /** Fewest canary requests before a promotion. */
  minRequests: z.number().int().min(1).optional(),
  /** False-abort and missed-abort probabilities of the sequential test. */
  alpha: z.number().gt(0).lt(0.5).optional(),
  beta: z.number().gt(0).lt(0.5).optional(),
});
export type AnalysisSpec = z.output<typeof analysisSchema>;

export const strategySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('replace'), onInterrupt }),
  z.strictObject({
    type: z.literal('rolling'),
    maxSurge: countOrPercent.default(DEFAULTS.maxSurge),
    maxUnavailable: countOrPercent.default(DEFAULTS.maxUnavailable),
    onInterrupt,
  }),
  z.strictObject({
    type: z.literal('blue-green'),
    /** Promote by itself this long after the new set is healthy (and its checks passed); unset: `baton promote`. */
    autoPromote: duration('autoPromote').optional(),
    /** Checks run against the new set (through the preview listener) before promotion. */
    checks: z.array(checkSchema).default([]),
    /** How long the old set stays up after the switch; `baton rollback` switches back instantly meanwhile. */
    scaleDownDelay: duration('scaleDownDelay').default(DEFAULTS.scaleDownDelay),
    onInterrupt,
  }),
  z.strictObject({
    type: z.literal('canary'),
    steps: z
      .array(canaryStep)
      .min(1, 'a canary needs at least one step')
      .superRefine((steps, ctx) => {
        // The stable set only shrinks as the canary grows; a canary that should shrink is an abort.
        let last = 0;
        steps.forEach((s, i) => {
          if (!('setInstances' in s)) return;
          if (s.setInstances < last) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'setInstances'],
              message: `setInstances must not decrease (from ${last} to ${s.setInstances}); abort the canary instead`,
            });
          }
          last = Math.max(last, s.setInstances);
        });
      }),
    /** Keep each client on the revision it was first given while weights are split. */
    sticky: z.boolean().default(true),
    /** Automatic analysis from the proxy's per-revision counters; off when absent. */
    analysis: analysisSchema.optional(),
    /** How the remaining instances are replaced after the last step: one at a time by default. */
    maxSurge: countOrPercent.default(1),
    maxUnavailable: countOrPercent.default(0),
    onInterrupt,
  }),
]);
export type StrategySpec = z.output<typeof strategySchema>;
