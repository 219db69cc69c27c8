import { execFileSync } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A self-signed certificate (P-256, valid one day) for `names` made with openssl into `dir` as
 * `<label>.pem` / `<label>.key`; `replace` writes them through a temporary file and rename, as a
 * certificate tool does. Returns the paths.
 */
export function selfSigned(dir: string, label: string, names: string[], opts: { atomic?: boolean } = {}) {
  const cert = join(dir, `${label}.pem`);
  const key = join(dir, `${label}.key`);
  const tmp = opts.atomic ? '.tmp' : '';
  const ext = join(dir, `${label}.ext`);
  writeFileSync(ext, `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
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
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
    ],
    { stdio: 'pipe' },
  );
  if (opts.atomic) {
    renameSync(key + tmp, key);
    renameSync(cert + tmp, cert);
  }
  return { cert, key };
}
