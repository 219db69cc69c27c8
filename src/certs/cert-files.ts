import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensurePrivateDir, PRIVATE_DIR, PRIVATE_FILE } from '../core/private-state.js';

/**
 * Where automatic certificates live under the data dir. The proxy reads `<dataDir>/certs/<host>/cert.pem`
 * and `key.pem` for `tls: auto` like file certificates and reloads them when replaced, so each is written
 * whole (temp file + rename): a reader never sees half a chain or a key that does not match the cert.
 */
export function certDir(dataDir: string, host: string): string {
  return join(dataDir, 'certs', host.toLowerCase());
}
export const certPath = (dataDir: string, host: string): string => join(certDir(dataDir, host), 'cert.pem');
export const keyPath = (dataDir: string, host: string): string => join(certDir(dataDir, host), 'key.pem');
export const accountKeyPath = (dataDir: string): string => join(dataDir, 'acme', 'account.key');

/** Writes `file` owner-only and atomically: readers see the old content or the new, never a mix. */
export function writePrivateAtomic(file: string, data: string | Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: PRIVATE_DIR });
  ensurePrivateDir(dirname(file));
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, data, { mode: PRIVATE_FILE, flag: 'wx' });
  renameSync(tmp, file);
}

/** What `baton certs` shows of one certificate (no key material). */
export interface CertInfo {
  host: string;
  names: string[];
  issuer: string;
  notBefore: string;
  notAfter: string;
  serial: string;
}

/** The leaf certificate of a PEM chain, described. */
export function describeCert(host: string, pem: string): CertInfo {
  const leaf = new X509Certificate(pem);
  const names = (leaf.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  return {
    host,
    names,
    issuer: leaf.issuer.replace(/\n/g, ', '),
    notBefore: new Date(leaf.validFrom).toISOString(),
    notAfter: new Date(leaf.validTo).toISOString(),
    serial: leaf.serialNumber,
  };
}

/** The certificate already on disk for `host`, or undefined when there is none (or it is unreadable). */
export function readCert(dataDir: string, host: string): CertInfo | undefined {
  const file = certPath(dataDir, host);
  if (!existsSync(file) || !existsSync(keyPath(dataDir, host))) return undefined;
  try {
    return describeCert(host, readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Writes a new key and chain for `host`: the key first, so a reload triggered by the cert finds its key. */
export function writeCert(dataDir: string, host: string, keyPem: string, chainPem: string): CertInfo {
  const info = describeCert(host, chainPem);
  writePrivateAtomic(keyPath(dataDir, host), keyPem);
  writePrivateAtomic(certPath(dataDir, host), chainPem);
  return info;
}
