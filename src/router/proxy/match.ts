/**
 * Which service of a shared listener a request goes to: the host decides first (exact names, then
 * wildcards, then the listener's default service without hosts), then the longest path prefix,
 * compared segment by segment (`/api` takes `/api` and `/api/x`, never `/apix`).
 */

/** What a service claims on its listener. */
export interface Claim {
  /** Lower-case names; `*.example.com` matches exactly one more label. Empty: the listener's default. */
  hosts: readonly string[];
  /** `/` (every path) or a prefix without trailing slash. */
  pathPrefix: string;
}

/** A Host header (or TLS server name) as compared: lower case, no port, no trailing dot. */
export function normalHost(host: string | undefined): string {
  if (host === undefined) return '';
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** `*.example.com` matches `a.example.com`, not `example.com` nor `a.b.example.com` (as TLS names do). */
export function wildcardMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return false;
  const suffix = pattern.slice(1);
  if (!host.endsWith(suffix)) return false;
  const label = host.slice(0, host.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}

/** Segment-wise prefix test; `prefix` is `/` or has no trailing slash. */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  const next = path.charCodeAt(prefix.length);
  // End of path, next segment, or the query string.
  return Number.isNaN(next) || next === 0x2f || next === 0x3f;
}

/** The prefix as stored: leading slash kept, trailing slashes dropped (`/api/` is `/api`). */
export function normalPrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === '') return '/';
  const p = prefix.replace(/\/+$/, '');
  return p === '' ? '/' : p;
}

/**
 * The claim a request reaches, or undefined (the listener answers 404). `path` is the request target
 * (its query string is ignored by the prefix test).
 */
export function pick<T extends Claim>(
  claims: Iterable<T>,
  rawHost: string | undefined,
  path: string,
): T | undefined {
  const host = normalHost(rawHost);
  let exact: T | undefined;
  let wild: T | undefined;
  let fallback: T | undefined;
  const longer = (a: T | undefined, b: T): T =>
    a === undefined || b.pathPrefix.length > a.pathPrefix.length ? b : a;
  for (const c of claims) {
    if (!prefixMatches(c.pathPrefix, path)) continue;
    if (c.hosts.length === 0) {
      fallback = longer(fallback, c);
      continue;
    }
    if (c.hosts.includes(host)) exact = longer(exact, c);
    else if (c.hosts.some((h) => wildcardMatches(h, host))) wild = longer(wild, c);
  }
  return exact ?? wild ?? fallback;
}

/**
 * Why `claim` cannot join a listener that holds `others` (undefined: it can): the same host and prefix
 * twice, or a second service without hosts.
 */
export function claimConflict(
  claim: Claim,
  others: Iterable<Claim & { service: string }>,
): { service: string; what: string } | undefined {
  for (const o of others) {
    if (claim.hosts.length === 0 && o.hosts.length === 0)
      return { service: o.service, what: 'a default service (no traffic.hosts)' };
    if (o.pathPrefix !== claim.pathPrefix) continue;
    const shared = claim.hosts.find((h) => o.hosts.includes(h));
    if (shared !== undefined)
      return { service: o.service, what: `host ${shared} with path prefix ${claim.pathPrefix}` };
  }
  return undefined;
}
