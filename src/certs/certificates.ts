import type { CertInfo } from './cert-files.js';
import type { CertStatus } from './cert-manager.js';

/** What the engine and the API need of automatic certificates (CertManager in the daemon). */
export interface Certificates {
  /** Whether `host` has a usable certificate on disk now. */
  has(host: string): boolean;
  /** A usable certificate for `host`: the one on disk, or a new order; rejects with the CA's message. */
  ensure(host: string): Promise<CertInfo>;
  list(): CertStatus[];
}

/** The `tls: auto` hosts of a traffic binding that have no certificate yet (what a deploy must order). */
export function missingCertificates(
  traffic: { tls?: unknown; hosts?: string[] | undefined } | undefined,
  certs: Pick<Certificates, 'has'> | undefined,
): string[] {
  if (traffic?.tls !== 'auto' || !certs) return [];
  return (traffic.hosts ?? []).map((h) => h.toLowerCase()).filter((h) => !certs.has(h));
}
