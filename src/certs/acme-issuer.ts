import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import { BatonError } from '../core/errors.js';
import type { AcmeSettings } from './acme-settings.js';
import { runWithTransport, type TransportContext } from './acme-transport.js';
import { accountKeyPath, type CertInfo, writeCert, writePrivateAtomic } from './cert-files.js';
import type { ChallengeResponder } from './challenge.js';
import { CertIssueError, type Issuer } from './issuer.js';

export { CertIssueError, type Issuer } from './issuer.js';

export interface AcmeIssuerOptions {
  settings: AcmeSettings;
  dataDir: string;
  responder: ChallengeResponder;
  /** Order polling backoff (ms); the library's 5 s minimum is slow against a local CA. */
  pollMinMs?: number;
  pollMaxMs?: number;
}

/**
 * ACME (RFC 8555) through acme-client: one account key per data dir (made on first use, 0600), a fresh
 * key per certificate, HTTP-01 answered by the responder (the proxy's HTTP listener), the chain and key
 * written where the proxy reads them.
 */
export class AcmeIssuer implements Issuer {
  private readonly agent: Agent | undefined;
  private client: acme.Client | undefined;

  constructor(private readonly opts: AcmeIssuerOptions) {
    const ca = opts.settings.caFile ? readFileSync(opts.settings.caFile, 'utf8') : undefined;
    // The extra CA is added to Node's roots, not instead of them: a directory behind a public CA still works.
    this.agent = ca ? new Agent({ ca: [...rootCertificates, ca], keepAlive: true }) : undefined;
  }

  private async accountClient(): Promise<acme.Client> {
    if (this.client) return this.client;
    const file = accountKeyPath(this.opts.dataDir);
    let key: Buffer;
    try {
      key = readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      key = await acme.crypto.createPrivateEcdsaKey('P-256');
      writePrivateAtomic(file, key);
    }
    this.client = new acme.Client({
      directoryUrl: this.opts.settings.directory,
      accountKey: key,
      backoffMin: this.opts.pollMinMs ?? 1000,
      backoffMax: this.opts.pollMaxMs ?? 10_000,
    });
    return this.client;
  }

  async issue(name: string): Promise<CertInfo> {
    const host = name.toLowerCase();
    const ctx: TransportContext = this.agent ? { agent: this.agent } : {};
    try {
      return await runWithTransport(ctx, async () => {
        const client = await this.accountClient();
        const [key, csr] = await acme.crypto.createCsr(
          { altNames: [host] },
          await acme.crypto.createPrivateEcdsaKey('P-256'),
        );
        const chain = await client.auto({
          csr,
          ...(this.opts.settings.email ? { email: this.opts.settings.email } : {}),
          termsOfServiceAgreed: true,
          challengePriority: ['http-01'],
          // The library would fetch http://<host>/ itself first; the CA's own validation is the one that counts.
          skipChallengeVerification: true,
          challengeCreateFn: (_authz, challenge, keyAuthorization) =>
            this.opts.responder.set(challenge.token, keyAuthorization),
          challengeRemoveFn: (_authz, challenge) => this.opts.responder.remove(challenge.token),
        });
        return writeCert(this.opts.dataDir, host, key.toString(), chain);
      });
    } catch (e) {
      if (e instanceof BatonError) throw e;
      const cause = ctx.networkError ?? e;
      throw new CertIssueError(host, (cause as Error).message, ctx.retryAfterSec, cause);
    }
  }
}
