/**
 * Secrets of a service spec: values written with `!env`, `!file` or `!base64` in baton.yaml. They are
 * stored in clear (the control plane needs them to start instances later: a restart, a rollback) and
 * hidden wherever a spec, a plan, an event or a message is shown. Two ways of hiding, both needed:
 * - by path, in a spec (precise, whatever the value);
 * - by value, in everything derived from a spec (API request bodies of a plan, a check's headers in a
 *   stored plan, error messages), where the path is not the spec's.
 */

export const HIDDEN = '[secret]';

/**
 * What a revision (or a deploy request) says about its secrets. `secretPaths`: dotted paths relative to
 * the service spec (`env.DB_PASSWORD`, `containerInstance.containers.0.environmentVariables.TOKEN`).
 * `secretEnv`: the older form, names under `env` only — still read, so old revisions stay hidden.
 */
export interface SecretMarks {
  secretPaths?: string[] | undefined;
  secretEnv?: string[] | undefined;
}

/** A substring this short is too common to hide inside other strings (an equal string is still hidden). */
const MIN_EMBEDDED = 4;

/** Every secret path of `m`, relative to the service spec. */
export function secretPathsOf(m: SecretMarks): string[] {
  return [...new Set([...(m.secretPaths ?? []), ...(m.secretEnv ?? []).map((n) => `env.${n}`)])].sort();
}

/** `value` with whatever sits at one of `paths` (dotted) replaced by `[secret]`. */
export function hidePaths<T>(value: T, paths: readonly string[]): T {
  if (paths.length === 0) return value;
  const hidden = new Set(paths);
  const walk = (v: unknown, at: string): unknown => {
    if (at !== '' && hidden.has(at)) return HIDDEN;
    const child = (k: string | number) => (at === '' ? String(k) : `${at}.${k}`);
    if (Array.isArray(v)) return v.map((x, i) => walk(x, child(i)));
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, child(k))]));
    return v;
  };
  return walk(value, '') as T;
}

/** The string values found at `paths` of `spec` (what to look for in things derived from it). */
export function secretValues(spec: unknown, paths: readonly string[]): string[] {
  const want = new Set(paths);
  const out = new Set<string>();
  const walk = (v: unknown, at: string): void => {
    if (want.has(at)) {
      if (typeof v === 'string' && v !== '') out.add(v);
      return;
    }
    const child = (k: string | number) => (at === '' ? String(k) : `${at}.${k}`);
    if (Array.isArray(v)) for (const [i, x] of v.entries()) walk(x, child(i));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, child(k));
  };
  if (want.size > 0) walk(spec, '');
  return [...out];
}

/**
 * Values of a spec that are secret however they were written: the URLs of `notify` webhooks (an incoming
 * webhook's URL is its credential).
 */
export function alwaysSecret(spec: unknown): string[] {
  const notify = (spec as { notify?: unknown } | null)?.notify;
  if (!Array.isArray(notify)) return [];
  return notify.flatMap((t: { slack?: unknown; webhook?: unknown } | null) =>
    [t?.slack, t?.webhook].filter((u): u is string => typeof u === 'string' && u !== ''),
  );
}

/** The secret values of a revision or a request: its spec's values at its secret paths, and `alwaysSecret`. */
export const secretsOf = (r: SecretMarks & { spec: unknown }): string[] => [
  ...new Set([...secretValues(r.spec, secretPathsOf(r)), ...alwaysSecret(r.spec)]),
];

/**
 * `value` with every string equal to a secret replaced by `[secret]`, and every secret (of at least a few
 * characters) inside a longer string replaced in place — raw, or as JSON escapes it (an error message
 * quoting a request body). Object keys are left alone.
 */
export function hideValues<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const needles = [
    ...new Set(secrets.flatMap((s) => (s.length < MIN_EMBEDDED ? [] : [s, JSON.stringify(s).slice(1, -1)]))),
  ].sort((a, b) => b.length - a.length);
  const exact = new Set(secrets);
  const str = (s: string): string => {
    if (exact.has(s)) return HIDDEN;
    let out = s;
    for (const n of needles) if (out.includes(n)) out = out.split(n).join(HIDDEN);
    return out;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return str(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
