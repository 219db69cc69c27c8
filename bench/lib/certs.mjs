// Self-signed certificates for the benches and the tests (test/helpers/certs.ts): P-256 (the key type every
// proxy in the field bench serves, so a full handshake costs each of them the same ECDSA signature), valid
// one day, made with openssl.
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A certificate for `names` in `dir` as `<label>.pem` / `<label>.key`. `atomic`: written through a
 * temporary file and a rename, as a certificate tool does. `combined` also writes `<label>.combined.pem`
 * (certificate then key, as HAProxy reads it). Returns the paths.
 */
export function selfSigned(dir, label, names, opts = {}) {
  const cert = join(dir, `${label}.pem`);
  const key = join(dir, `${label}.key`);
  const tmp = opts.atomic ? '.tmp' : '';
  const san = `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`;
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
      key + tmp,
      '-out',
      cert + tmp,
      '-days',
      '1',
      '-subj',
      `/CN=${names[0]}`,
      '-addext',
      san,
    ],
    { stdio: 'pipe' },
  );
  if (opts.atomic) {
    renameSync(key + tmp, key);
    renameSync(cert + tmp, cert);
  }
  if (!opts.combined) return { cert, key };
  const combined = join(dir, `${label}.combined.pem`);
  writeFileSync(combined, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return { cert, key, combined };
}
