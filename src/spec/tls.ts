import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { SpecIssue } from '../core/errors.js';
import { hostProblem } from '../router/host-name.js';
import type { RouteTls } from '../router/router.js';
import type { PositionMap } from './positions.js';

/**
 * Where `tls: auto` keeps a host's certificate: `<dataDir>/certs/<host>/cert.pem` (chain) and `key.pem`.
 * The ACME side writes both atomically (rename); the proxy serves them like any certificate files and
 * reloads them when they are replaced.
 */
export function autoCertFiles(dataDir: string, host: string): RouteTls {
  const dir = path.join(dataDir, 'certs', host.toLowerCase());
  return { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
}

/** `traffic.hosts` entries. */
export const hostSchema = z.string().superRefine((h, ctx) => {
  const why = hostProblem(h);
  if (why !== undefined) ctx.addIssue({ code: 'custom', message: `expected ${why}, got "${h}"` });
});

/** `traffic.pathPrefix`. */
export const pathPrefixSchema = z
  .string()
  .refine((p) => p.startsWith('/'), 'expected a path starting with / (e.g. /api)')
  .refine((p) => !/[?#\s]/.test(p), 'expected a path without query, fragment or spaces');

/** `traffic.tls`: PEM files (chain allowed), or `auto` (ACME, HTTP-01). */
export const tlsSchema = z.union([
  z.literal('auto'),
  z.strictObject({
    cert: z.string().min(1, 'expected a file path'),
    key: z.string().min(1, 'expected a file path'),
  }),
]);

interface TlsTraffic {
  listen: string;
  hosts?: string[] | undefined;
  tls?: 'auto' | { cert: string; key: string } | undefined;
}

/**
 * The certificate files of `traffic.tls` read as the proxy will: readable, PEM, key matching the leaf,
 * valid now. Relative paths are taken from the spec file's directory and made absolute in `spec`
 * (the proxy runs elsewhere). Returns the problems, positioned.
 */
export function tlsFileIssues(
  services: Record<string, { traffic: TlsTraffic }>,
  file: string,
  positions: PositionMap,
  now = new Date(),
): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const base = path.dirname(path.resolve(file));
  for (const [name, svc] of Object.entries(services)) {
    const tls = svc.traffic.tls;
    if (tls === undefined || tls === 'auto') continue;
    const at = (field: 'cert' | 'key', message: string): void => {
      const p = ['services', name, 'traffic', 'tls', field];
      issues.push({ ...positions.value(p), path: p.join('.'), message });
    };
    tls.cert = path.resolve(base, tls.cert);
    tls.key = path.resolve(base, tls.key);
    const cert = readPem(tls.cert, (m) => at('cert', m));
    const key = readPem(tls.key, (m) => at('key', m));
    if (cert === undefined || key === undefined) continue;
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(cert);
    } catch (e) {
      at('cert', `expected a PEM certificate in ${tls.cert}: ${(e as Error).message}`);
      continue;
    }
    try {
      if (!leaf.checkPrivateKey(createPrivateKey(key)))
        at('key', `the key in ${tls.key} does not match the certificate in ${tls.cert}`);
    } catch (e) {
      at('key', `expected a PEM private key in ${tls.key}: ${(e as Error).message}`);
    }
    const from = new Date(leaf.validFrom);
    const to = new Date(leaf.validTo);
    if (now < from || now > to)
      at(
        'cert',
        `the certificate in ${tls.cert} is ${now < from ? 'not yet valid' : 'expired'}: valid from ${from.toISOString()} to ${to.toISOString()}`,
      );
  }
  return issues;
}

function readPem(file: string, fail: (m: string) => void): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(
      `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`,
    );
    return undefined;
  }
}

/** Checks of one service's `traffic` routing fields (schema refinement). */
export function trafficRoutingIssues(
  t: TlsTraffic & { router: { kind: string }; pathPrefix?: string | undefined },
  add: (path: PropertyKey[], message: string) => void,
): void {
  const proxyOnly = (field: string): void =>
    add(
      [field],
      `${field} needs the embedded proxy (router: proxy); with ${t.router.kind}, configure it in the load balancer`,
    );
  if (t.router.kind !== 'proxy') {
    if (t.hosts !== undefined) proxyOnly('hosts');
    if (t.pathPrefix !== undefined) proxyOnly('pathPrefix');
    if (t.tls !== undefined) proxyOnly('tls');
  }
  if (t.tls === 'auto') {
    if (t.hosts === undefined || t.hosts.length === 0)
      add(['tls'], 'tls: auto needs traffic.hosts (the names to get certificates for)');
    for (const [i, h] of (t.hosts ?? []).entries())
      if (h.startsWith('*.'))
        add(
          ['hosts', i],
          `tls: auto cannot cover the wildcard ${h} (HTTP-01 cannot issue wildcards); give tls: {cert, key} files`,
        );
  }
}

/**
 * Services of one file that share a listener: all TLS or all plain, one default (no hosts), no host +
 * prefix twice. `add` reports at a service's field.
 */
export function sharedListenerIssues(
  services: Record<
    string,
    { traffic: TlsTraffic & { router: { kind: string }; pathPrefix?: string | undefined } }
  >,
  add: (service: string, field: PropertyKey[], message: string) => void,
): void {
  const byListen = new Map<string, string[]>();
  for (const [name, s] of Object.entries(services)) {
    if (s.traffic.router.kind !== 'proxy') continue;
    byListen.set(s.traffic.listen, [...(byListen.get(s.traffic.listen) ?? []), name]);
  }
  for (const [listen, names] of byListen) {
    for (const [i, name] of names.entries()) {
      const t = services[name]!.traffic;
      for (const other of names.slice(0, i)) {
        const o = services[other]!.traffic;
        if ((o.tls === undefined) !== (t.tls === undefined)) {
          add(
            name,
            ['tls'],
            `listener ${listen} is ${o.tls === undefined ? 'plain HTTP' : 'TLS'} for service ${other}; a listener is TLS for all its services or for none`,
          );
          continue;
        }
        const hosts = t.hosts ?? [];
        const ohosts = o.hosts ?? [];
        if (hosts.length === 0 && ohosts.length === 0) {
          add(
            name,
            ['listen'],
            `port ${listen.slice(listen.lastIndexOf(':') + 1)} is already used by service ${other}: a shared listener has one default service (no traffic.hosts); give one of them hosts`,
          );
          continue;
        }
        if ((t.pathPrefix ?? '/').replace(/\/+$/, '') !== (o.pathPrefix ?? '/').replace(/\/+$/, '')) continue;
        for (const [j, h] of hosts.entries())
          if (ohosts.some((x) => x.toLowerCase() === h.toLowerCase()))
            add(
              name,
              ['hosts', j],
              `host ${h} with path prefix ${t.pathPrefix ?? '/'} on ${listen} is already served by service ${other}`,
            );
      }
    }
  }
}
