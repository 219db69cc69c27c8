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

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** A size in bytes: a number, or a string such as 512kb, 10mb, 1gb (powers of 1024). */
export const byteSize = (what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const m = typeof v === 'number' ? undefined : /^(\d+)\s*(b|kb|mb|gb)$/i.exec(v.trim());
    const bytes =
      typeof v === 'number' ? v : m ? Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]! : Number.NaN;
    if (!Number.isSafeInteger(bytes) || bytes <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a size such as 512kb, 10mb or 1gb for ${what}, found ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return bytes;
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
