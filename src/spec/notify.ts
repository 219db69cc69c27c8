import { z } from 'zod';

/** What a receiver can be told about, in the order a deploy goes through them. */
export const NOTIFY_EVENTS = [
  'started',
  'waiting',
  'analysis',
  'succeeded',
  'failed',
  'rolled-back',
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

/**
 * One receiver: a Slack-compatible incoming webhook (`slack: URL`, posted `{"text": ...}`) or a plain
 * JSON webhook (`webhook: URL`, posted the event as JSON). The URL is a secret (it is the credential of
 * an incoming webhook): it is hidden wherever a spec, an event or a message is shown.
 */
const notifyTarget = z
  .strictObject({
    slack: httpUrl.optional(),
    webhook: httpUrl.optional(),
    /** Which events it receives (default: all of them). */
    events: z.array(z.enum(NOTIFY_EVENTS)).min(1, 'expected at least one event').optional(),
  })
  .superRefine((t, ctx) => {
    if ((t.slack === undefined) === (t.webhook === undefined))
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of slack or webhook (its URL)' });
  });

/**
 * `notify:` at the top of baton.yaml (every service) or in a service (replaces the top-level list for
 * that service; `notify: []` turns it off). Delivered in the background: never blocks or fails a deploy.
 */
export const notifySchema = z.array(notifyTarget);
export type NotifySpec = z.output<typeof notifySchema>;
export type NotifyTarget = NotifySpec[number];

/** The receiver's URL, whichever kind it is. */
export const targetUrl = (t: NotifyTarget): string => t.slack ?? t.webhook ?? '';

/** The file with the top-level `notify` given to each service that has none of its own. */
export function inheritNotify<F extends { notify?: unknown; services: Record<string, { notify?: unknown }> }>(
  f: F,
): F {
  if (f.notify === undefined) return f;
  const services = Object.fromEntries(
    Object.entries(f.services).map(([n, s]) => [n, s.notify === undefined ? { ...s, notify: f.notify } : s]),
  );
  return { ...f, services };
}
