import type { AuthenticationDetailsProvider } from 'oci-common';
import { type OciClients, ociClients } from '../cloud/oci/clients.js';
import { ociCommon } from '../cloud/oci/sdk.js';
import { InputError } from '../core/errors.js';

/**
 * The control plane's OCI identity. Daemon-wide, from `baton serve`'s environment, not from baton.yaml:
 * credentials belong to where the control plane runs (an instance principal is the machine's own), and
 * keeping them out of service specs keeps them out of revisions, history and plans.
 */
export interface OciSettings {
  auth: 'config' | 'instance-principal';
  /** Default `~/.oci/config` (the SDK's). */
  configFile?: string | undefined;
  profile: string;
  /** Required with instance principals; with a config file, the profile's `region` when absent. */
  region?: string | undefined;
  /** One base URL for every OCI service: a private endpoint, or a test's fake. */
  endpoint?: string | undefined;
}

/** `BATON_OCI_AUTH` (config | instance-principal), `BATON_OCI_CONFIG_FILE`, `_PROFILE`, `_REGION`, `_ENDPOINT`. */
export function ociSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): OciSettings {
  const auth = env.BATON_OCI_AUTH ?? 'config';
  if (auth !== 'config' && auth !== 'instance-principal')
    throw new InputError(`BATON_OCI_AUTH: expected config or instance-principal, found "${auth}"`);
  return {
    auth,
    configFile: env.BATON_OCI_CONFIG_FILE || undefined,
    profile: env.BATON_OCI_PROFILE || 'DEFAULT',
    region: env.BATON_OCI_REGION || undefined,
    endpoint: env.BATON_OCI_ENDPOINT || undefined,
  };
}

/**
 * Instance principals, fetched on the first signed request rather than at start: the SDK's signer asks a
 * provider with `getAuthType() === 'instance_principal'` to build the real one (certificates from the
 * instance metadata service) and uses it from then on. So building the clients never blocks or fails a
 * control plane that has no OCI service yet.
 */
class LazyInstancePrincipal {
  private provider: AuthenticationDetailsProvider | undefined;
  getAuthType(): string {
    return 'instance_principal';
  }
  getProvider(): AuthenticationDetailsProvider | undefined {
    return this.provider;
  }
  setProvider(p: AuthenticationDetailsProvider): void {
    this.provider = p;
  }
  getPassphrase(): string | null {
    return null;
  }
  async getKeyId(): Promise<string> {
    this.provider ??=
      await new (ociCommon().InstancePrincipalsAuthenticationDetailsProviderBuilder)().build();
    return this.provider.getKeyId();
  }
  getPrivateKey(): string {
    return this.provider?.getPrivateKey() ?? '';
  }
}

function authFor(s: OciSettings): AuthenticationDetailsProvider {
  if (s.auth === 'instance-principal') {
    if (!s.region) throw new InputError('OCI instance principals need a region: set BATON_OCI_REGION');
    return new LazyInstancePrincipal() as unknown as AuthenticationDetailsProvider;
  }
  try {
    return new (ociCommon().ConfigFileAuthenticationDetailsProvider)(s.configFile, s.profile);
  } catch (err) {
    throw new InputError(
      `cannot read OCI credentials from ${s.configFile ?? '~/.oci/config'} (profile ${s.profile}): ${(err as Error).message}; set BATON_OCI_CONFIG_FILE/BATON_OCI_PROFILE, or BATON_OCI_AUTH=instance-principal`,
    );
  }
}

/**
 * The OCI clients, made once on first need (the first `runtime: oci` or `router: oci-lb` service) and
 * shared by the runtime and the router: one connection pool, one retry layer.
 */
export function lazyOciClients(settings: () => OciSettings): () => OciClients {
  let made: OciClients | undefined;
  return () => {
    if (made) return made;
    const s = settings();
    made = ociClients({ auth: authFor(s), region: s.region, endpoint: s.endpoint });
    return made;
  };
}
