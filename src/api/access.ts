import { AccessError, InputError } from '../core/errors.js';

/**
 * Who may call which route. A token has a role (what it may do) and a service scope (which services it
 * may see or act on, as names or `prefix-*` globs; `*` is every service).
 *
 * Out of scope is answered 403, never 404, and decided from the name alone — before any lookup — so
 * a scoped token learns nothing about services outside its scope (an unknown name out of scope is 403
 * too). Listings (status, audit) leave out-of-scope services out.
 */
export const ROLES = ['viewer', 'deployer', 'admin'] as const;
export type Role = (typeof ROLES)[number];
const RANK: Record<Role, number> = { viewer: 0, deployer: 1, admin: 2 };

/** The authenticated caller of one request. */
export interface Principal {
  /** The token's name (`local-admin` for the data dir's token): recorded in the audit log. */
  name: string;
  role: Role;
  /** Names or globs (`team-a-*`); `['*']` is every service. */
  services: string[];
}

/**
 * One route's rule. `scope` says where the service comes from:
 * - `service`: the path's service name; `body`: the request body's `service` (deploy);
 * - `deployment`: the handler checks the deployment's service with `allow`;
 * - `listing`: the handler keeps only what `sees` allows;
 * - `global`: nothing per service, so the token's scope must be every service (token management).
 */
export type Rule =
  | { public: true }
  | { role: Role; scope: 'service' | 'body' | 'deployment' | 'listing' | 'global' };

export const ALL_SERVICES = ['*'];

function globMatch(glob: string, name: string): boolean {
  if (glob === '*') return true;
  return glob.endsWith('*') ? name.startsWith(glob.slice(0, -1)) : glob === name;
}

export const sees = (p: Principal, service: string): boolean => p.services.some((g) => globMatch(g, service));

const scopeText = (p: Principal) => p.services.join(',');

/** Throws 403 unless the principal's role reaches `role`. */
export function requireRole(p: Principal, role: Role, what: string): void {
  if (RANK[p.role] < RANK[role])
    throw new AccessError(
      'FORBIDDEN',
      `token ${p.name} (role ${p.role}, services ${scopeText(p)}) may not ${what}: that needs role ${role}`,
      { token: p.name, role: p.role, services: p.services, needs: role },
    );
}

/** Throws 403 unless `service` is in the principal's scope. */
export function requireService(p: Principal, service: string, what: string): void {
  if (!sees(p, service))
    throw new AccessError(
      'FORBIDDEN',
      `token ${p.name} (role ${p.role}) may not ${what}: service ${service} is outside its scope (services ${scopeText(p)})`,
      { token: p.name, role: p.role, services: p.services, service },
    );
}

/** Throws 403 unless the principal's scope is every service. */
export function requireAllServices(p: Principal, what: string): void {
  if (!p.services.includes('*'))
    throw new AccessError(
      'FORBIDDEN',
      `token ${p.name} may not ${what}: that needs a token scoped to every service (its scope is ${scopeText(p)})`,
      { token: p.name, role: p.role, services: p.services },
    );
}

/** `team-a-*,web` → globs; each a service name, optionally ending in `*`. */
export function parseScope(text: string): string[] {
  const globs = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const g of globs)
    if (!/^(\*|[a-z][a-z0-9-]*\*?)$/.test(g))
      throw new InputError(`--services: "${g}" is not a service name or a prefix glob such as team-a-*`);
  return globs.length ? globs : ALL_SERVICES;
}
