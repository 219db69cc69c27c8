import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/*
 * The OCI SDK, loaded on first use. Its packages are CommonJS (the same instances an ESM import would
 * give) and oci-core alone is some 800 modules: loading them at start made every `baton` command and
 * every daemon start about a second slower, though most never touch OCI.
 */
export const ociCommon = () => require('oci-common') as typeof import('oci-common');
export const ociContainerInstances = () =>
  require('oci-containerinstances') as typeof import('oci-containerinstances');
export const ociCore = () => require('oci-core') as typeof import('oci-core');
export const ociLoadBalancer = () => require('oci-loadbalancer') as typeof import('oci-loadbalancer');
/** undici, for the OCI transport (see RetryingHttpClient: importing it changes the global fetch). */
export const undici = () => require('undici') as typeof import('undici');
