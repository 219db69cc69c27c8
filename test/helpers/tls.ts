import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  /** The throwaway CA's certificate (PEM file). */
  ca: string;
  /** A server certificate for 127.0.0.1 and localhost, signed by the CA, and its key. */
  cert: string;
  key: string;
  /** A client certificate and key signed by the same CA (for servers that verify clients). */
  clientCert: string;
  clientKey: string;
}

/**
 * A throwaway CA and a server certificate for 127.0.0.1 / localhost, valid one day, made with openssl
 * (scripts/test.mjs installs it when missing) into `dir`. P-256 keys: fast to make on a loaded machine.
 */
export function makePki(dir: string): TestPki {
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=baton test CA',
  );
  writeFileSync(p('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const sign = (name: string, cn: string, ext: boolean) => {
    ssl('req', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`);
    ssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.pem`),
      '-days',
      '1',
      ...(ext ? ['-extfile', p('san.ext')] : []),
    );
  };
  sign('server', 'localhost', true);
  sign('client', 'baton client', false);
  return {
    ca: p('ca.pem'),
    cert: p('server.pem'),
    key: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
  };
}
