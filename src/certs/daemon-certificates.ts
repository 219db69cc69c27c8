import type { Logger } from 'pino';
import { ProxyRouter } from '../router/proxy/client.js';
import { AcmeIssuer } from './acme-issuer.js';
import { type AcmeSettings, LETS_ENCRYPT_PRODUCTION } from './acme-settings.js';
import { CertManager } from './cert-manager.js';
import type { ChallengeResponder } from './challenge.js';

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
    issuer: new AcmeIssuer({ settings, dataDir, responder: proxyResponder(proxy) }),
    logger,
    ...(fraction > 0 && fraction < 1 ? { renewFraction: fraction } : {}),
  });
  certs.start();
  return certs;
}
