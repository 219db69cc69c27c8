import { accessSync, constants } from 'node:fs';
import type { Logger } from 'pino';
import { ProxyRouter } from '../router/proxy/client.js';
import type { AcmeIssuerOptions } from './acme-issuer.js';
import { type AcmeSettings, LETS_ENCRYPT_PRODUCTION } from './acme-settings.js';
import { CertManager } from './cert-manager.js';
import type { ChallengeResponder } from './challenge.js';
import type { Issuer } from './issuer.js';

/** HTTP-01 answers go to the embedded proxy, which serves them on its HTTP listener (`--http-listen`). */
export function proxyResponder(proxy: ProxyRouter): ChallengeResponder {
  return {
    set: (token, keyAuthorization) => proxy.setAcmeChallenge(token, keyAuthorization),
    remove: (token) => proxy.deleteAcmeChallenge(token),
  };
}

/**
 * The daemon's automatic certificates, renewing in the background. `BATON_ACME_RENEW_FRACTION` (a share
 * of the lifetime, e.g. 0.01) makes renewal due early: for tests and for checking a setup, not for use.
 */
export function startCertificates(
  dataDir: string,
  opts: { acme?: AcmeSettings | undefined; httpListen?: string | undefined },
  logger: Logger,
): CertManager {
  const settings = opts.acme ?? { directory: LETS_ENCRYPT_PRODUCTION };
  const proxy = new ProxyRouter({ dataDir, httpListen: opts.httpListen });
  const fraction = Number(process.env.BATON_ACME_RENEW_FRACTION);
  const certs = new CertManager({
    dataDir,
    issuer: lazyIssuer({ settings, dataDir, responder: proxyResponder(proxy) }),
    logger,
    ...(fraction > 0 && fraction < 1 ? { renewFraction: fraction } : {}),
  });
  certs.start();
  return certs;
}

/**
 * acme-client and its crypto stack (some 400 modules, 0.7 s on a loaded 2-core host) load on the first
 * order, not at every daemon start. The extra CA file is checked now, as the issuer would read it.
 */
function lazyIssuer(opts: AcmeIssuerOptions): Issuer {
  if (opts.settings.caFile) accessSync(opts.settings.caFile, constants.R_OK);
  let issuer: Promise<Issuer> | undefined;
  return {
    issue: async (host) => {
      // A failed load is tried again at the next order, not remembered.
      issuer ??= import('./acme-issuer.js').then(
        (m) => new m.AcmeIssuer(opts),
        (e: unknown) => {
          issuer = undefined;
          throw e;
        },
      );
      return (await issuer).issue(host);
    },
  };
}
