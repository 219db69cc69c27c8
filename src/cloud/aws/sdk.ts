import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/*
 * The AWS SDK clients, loaded on first use (as the OCI SDK, `cloud/oci/sdk.ts`): their packages are
 * CommonJS (the same classes an ESM import gives, so aws-sdk-client-mock still applies), and loading them
 * at start cost every daemon start half a second (0.46–0.66 s measured on a loaded 2-core host), though
 * most never touch AWS.
 */
export const ecsSdk = () => require('@aws-sdk/client-ecs') as typeof import('@aws-sdk/client-ecs');
export const elbSdk = () =>
  require('@aws-sdk/client-elastic-load-balancing-v2') as typeof import('@aws-sdk/client-elastic-load-balancing-v2');
