import type { z } from 'zod';
import { InputError } from '../../core/errors.js';

/**
 * A driver's `traffic.router` settings checked against its schema: the settings, or one InputError
 * listing every issue with its path (`router <kind>: path: message; …`).
 */
export function parseSettings<S extends z.ZodType>(schema: S, kind: string, v: unknown): z.output<S> {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(router)'}: ${i.message}`);
  throw new InputError(`router ${kind}: ${issues.join('; ')}`, { issues });
}
