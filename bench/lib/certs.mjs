// A self-signed certificate for the benches: P-256 (the key type every proxy in the field bench serves,
// so a full handshake costs each of them the same ECDSA signature), one day, made with openssl.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `{ cert, key, combined }` paths in `dir` for `host` (`combined`: cert then key, as HAProxy reads it). */
export function selfSigned(dir, host) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
    ],
    { stdio: 'pipe' },
  );
  const combined = join(dir, 'combined.pem');
  writeFileSync(combined, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return { cert, key, combined };
}
