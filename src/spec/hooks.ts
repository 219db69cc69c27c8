import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { duration } from './primitives.js';

/**
 * A command or an HTTP request Baton runs at a point of a deploy. Commands get the deployment's
 * context in `BATON_*` variables and as JSON on stdin; webhooks get it as a JSON POST body.
 */
const commandAction = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  timeout: duration('timeout').default(DEFAULTS.hookTimeout),
});

const webhookAction = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  method: z.enum(['GET', 'POST', 'PUT']).default('POST'),
  timeout: duration('timeout').default(DEFAULTS.hookTimeout),
});

export const actionSchema = z.union([commandAction, webhookAction]);
export type Action = z.output<typeof actionSchema>;

/** One action or a list; run in order, the first failure stops the list. */
const actions = z.union([actionSchema, z.array(actionSchema)]).transform((v) => (Array.isArray(v) ? v : [v]));

export const HOOK_NAMES = ['pre-deploy', 'post-deploy', 'pre-switch', 'post-switch', 'on-rollback'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export const hooksSchema = z.strictObject({
  /** Before anything starts. A failure stops the deploy; nothing changed. */
  'pre-deploy': actions.optional(),
  /** After the deploy succeeded. A failure is reported, not rolled back. */
  'post-deploy': actions.optional(),
  /** Before traffic first moves to the new revision. A failure rolls back. */
  'pre-switch': actions.optional(),
  /** After traffic first moved. A failure is reported. */
  'post-switch': actions.optional(),
  /** After a failed deploy was rolled back. */
  'on-rollback': actions.optional(),
});
export type HooksSpec = z.output<typeof hooksSchema>;

/**
 * An external check between steps: a command that must exit 0, or an HTTP request whose answer must
 * have the expected status and (optionally) contain a string — the ECS pipeline's `curl | grep`.
 */
export const checkSchema = z.union([
  commandAction,
  z.strictObject({
    http: z.strictObject({
      url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
      method: z.enum(['GET', 'POST', 'HEAD']).default('GET'),
      status: z.number().int().min(100).max(599).default(200),
      bodyContains: z.string().optional(),
    }),
    timeout: duration('timeout').default(DEFAULTS.hookTimeout),
  }),
]);
export type CheckSpec = z.output<typeof checkSchema>;
