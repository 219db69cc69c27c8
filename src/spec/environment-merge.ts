import type { SpecIssue } from '../core/errors.js';
import { errorMap, toSpecIssues } from './issues.js';
import type { PositionMap } from './positions.js';
import { serviceEntrySchema } from './schema.js';

/**
 * An environment's overrides are merged onto its services the way Kamal merges `deploy.staging.yml`:
 * mappings merge key by key, anything else (lists, scalars) replaces. The result is validated as a whole
 * service, so an override that breaks a cross-field rule is caught, and reported at the override.
 */
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isRecord(base) || !isRecord(over)) return structuredClone(over);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? deepMerge(base[k], v) : structuredClone(v);
  return out;
}

/** Every path inside `v` (mappings descended, lists and scalars are leaves), `[]` first. */
export function pathsIn(v: unknown, at: PropertyKey[] = []): PropertyKey[][] {
  const out = [at];
  if (isRecord(v)) for (const [k, x] of Object.entries(v)) out.push(...pathsIn(x, [...at, k]));
  return out;
}

type Raw = {
  services?: Record<string, unknown>;
  environments?: Record<string, { services?: Record<string, unknown> } | null>;
};

interface Ctx {
  positions: PositionMap;
  isSecret(path: readonly PropertyKey[]): boolean;
}

/**
 * Validates every environment's merged services. A service invalid on its own is left to the main
 * validation (its errors would only repeat); an override of an undeclared service is a schema error.
 */
export function overrideIssues(raw: unknown, ctx: Ctx): SpecIssue[] {
  const r = raw as Raw;
  if (!isRecord(r) || !isRecord(r.environments) || !isRecord(r.services)) return [];
  const issues: SpecIssue[] = [];
  for (const [env, e] of Object.entries(r.environments)) {
    if (!isRecord(e) || !isRecord(e.services)) continue;
    for (const [name, over] of Object.entries(e.services)) {
      const base = r.services[name];
      if (!isRecord(over) || base === undefined || !serviceEntrySchema.safeParse(base).success) continue;
      const merged = deepMerge(base, over);
      const { error, knownKeys } = errorMap();
      const parsed = serviceEntrySchema.safeParse(merged, { error, reportInput: true });
      if (parsed.success) continue;
      const at = ['environments', env, 'services', name];
      const basePath = (p: readonly PropertyKey[]) => ['services', name, ...p.slice(at.length)];
      const zodIssues = parsed.error.issues.map((i) => ({ ...i, path: [...at, ...i.path] }));
      issues.push(
        ...toSpecIssues(
          zodIssues,
          {
            raw: { environments: { [env]: { services: { [name]: merged } } } },
            positions: ctx.positions,
            isSecret: (p) => ctx.isSecret(p) || ctx.isSecret(basePath(p)),
          },
          knownKeys,
        ),
      );
    }
  }
  return issues;
}

/** `raw` with environment `env`'s overrides merged onto its services; undefined when there is no such environment. */
export function withEnvironment(
  raw: unknown,
  env: string,
  onMerged: (from: PropertyKey[], to: PropertyKey[], paths: PropertyKey[][]) => void,
): unknown | undefined {
  const r = raw as Raw;
  const e = isRecord(r) && isRecord(r.environments) ? r.environments[env] : undefined;
  if (!isRecord(e)) return undefined;
  if (!isRecord(e.services) || !isRecord(r.services)) return raw;
  const services = { ...r.services };
  for (const [name, over] of Object.entries(e.services)) {
    if (!(name in services) || !isRecord(over)) continue;
    services[name] = deepMerge(services[name], over);
    onMerged(['environments', env, 'services', name], ['services', name], pathsIn(over).slice(1));
  }
  return { ...r, services };
}

/** The environments a file declares (for messages). */
export function environmentNames(raw: unknown): string[] {
  const r = raw as Raw;
  return isRecord(r) && isRecord(r.environments) ? Object.keys(r.environments) : [];
}
