import { z } from 'zod';
import { parseDuration } from '../core/duration.js';

/** Shapes shared by the schema's parts. */
export const duration = (what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration such as 500ms, 5s or 2m for ${what}, found ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return ms;
  });

/** An absolute count or a percentage of replicas (`25%`). */
export const countOrPercent = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?%$/, 'expected a count or a percentage such as 25%'),
]);

export const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080')
  .refine((s) => {
    const port = Number(s.slice(s.lastIndexOf(':') + 1));
    return port > 0 && port < 65536;
  }, 'port must be between 1 and 65535');

export const envMap = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'),
  z.union([z.string(), z.number(), z.boolean()]).transform(String),
);
