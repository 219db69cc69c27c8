import { z } from 'zod';
import { duration } from '../../spec/primitives.js';
import { parseSettings } from '../external/settings.js';

/** Defaults of an `alb` route. */
export const ALB_DEFAULTS = {
  /** Longest wait for new targets to pass the target group's health check (ALB's default check: 5 × 30 s). */
  healthTimeout: 300_000,
  pollInterval: 5_000,
  /** How long a sticky split keeps a client on its target group (ALB's target group stickiness). */
  stickiness: 3_600_000,
} as const;

const arn = (what: string) =>
  z.string().regex(/^arn:aws[a-z-]*:elasticloadbalancing:/, `expected the ARN of ${what}`);

/**
 * `traffic.router` with `kind: alb` (to be added to `src/spec/router.ts` when wired). Baton owns the
 * forward action of one listener (its default action) or of one listener rule, and the targets it
 * registers in the two target groups (target type `ip`, the app's port). Each revision serving at a time
 * uses one of the two target groups; the action's weights split traffic between them.
 */
export const albRouteSchema = z
  .strictObject({
    kind: z.literal('alb'),
    listenerArn: arn('the listener (HTTP/HTTPS) carrying the service'),
    /** A rule of that listener (path- or host-based), when the service does not own the default action. */
    ruleArn: arn('a listener rule').optional(),
    /** The two target groups (blue/green, stable/canary): target type ip, the same protocol and port. */
    targetGroups: z.tuple([arn('a target group'), arn('a target group')]),
    /** A second listener (e.g. :8443) Baton forwards to the preview revision of a blue-green deploy. */
    previewListenerArn: arn('the preview listener').optional(),
    healthTimeout: duration('traffic.router.healthTimeout').default(ALB_DEFAULTS.healthTimeout),
    pollInterval: duration('traffic.router.pollInterval').default(ALB_DEFAULTS.pollInterval),
    stickiness: duration('traffic.router.stickiness').default(ALB_DEFAULTS.stickiness),
  })
  .superRefine((s, ctx) => {
    if (s.targetGroups[0] === s.targetGroups[1])
      ctx.addIssue({
        code: 'custom',
        path: ['targetGroups'],
        message: 'expected two different target groups',
      });
    if (s.previewListenerArn !== undefined && s.previewListenerArn === s.listenerArn)
      ctx.addIssue({
        code: 'custom',
        path: ['previewListenerArn'],
        message: 'the preview listener must not be the production listener',
      });
  });

export type AlbRouteSettings = z.output<typeof albRouteSchema>;
export type AlbRouteInput = z.input<typeof albRouteSchema>;

export const parseAlbSettings = (v: unknown): AlbRouteSettings => parseSettings(albRouteSchema, 'alb', v);
