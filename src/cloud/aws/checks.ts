import type { ECSClient } from '@aws-sdk/client-ecs';
import type { Check } from '../../core/check.js';
import { ecsSdk } from './sdk.js';

/** Where the SDK's chain found credentials (its `$source` feature codes), said in words. */
const SOURCES: Record<string, string> = {
  CREDENTIALS_ENV_VARS: 'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
  CREDENTIALS_PROFILE: 'a profile in ~/.aws/credentials or ~/.aws/config',
  CREDENTIALS_PROFILE_SOURCE_PROFILE: 'a profile assuming a role',
  CREDENTIALS_PROFILE_PROCESS: 'a profile’s credential_process',
  CREDENTIALS_PROFILE_SSO: 'SSO (aws sso login)',
  CREDENTIALS_SSO: 'SSO (aws sso login)',
  CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN: 'a web identity token',
  CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN: 'AWS_WEB_IDENTITY_TOKEN_FILE',
  CREDENTIALS_HTTP: 'the container’s role (ECS/EKS credentials endpoint)',
  CREDENTIALS_IMDS: 'the EC2 instance’s role (instance metadata)',
};

const CREDENTIALS_FIX =
  'in the environment of baton serve (and of this shell, for doctor): AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE naming a profile of ~/.aws/credentials or an SSO profile (aws sso login), or run on a machine or container with a role';

/**
 * What `runtime: ecs` and `router: alb` services need of this machine: a region and credentials from the
 * AWS SDK's default chain, resolved as the control plane resolves them (BATON_AWS_REGION first). No AWS
 * call is made; environment credentials resolve without the network. The chain ends at the EC2 instance
 * metadata service, which may not answer off EC2: the check gives up after `timeoutMs`.
 */
export async function awsChecks(
  services: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 5000,
): Promise<Check[]> {
  if (services.length === 0) return [];
  const who = `for ${services.join(', ')}`;
  const client = new (ecsSdk().ECSClient)({
    ...(env.BATON_AWS_REGION ? { region: env.BATON_AWS_REGION } : {}),
    ...(env.BATON_AWS_ENDPOINT ? { endpoint: env.BATON_AWS_ENDPOINT } : {}),
  });
  try {
    const region = await client.config.region().then(
      (r): Check => ({ name: 'aws region', status: 'ok', detail: `${r} ${who}` }),
      (): Check => ({
        name: 'aws region',
        status: 'fail',
        detail: `no AWS region ${who}`,
        fix: 'set AWS_REGION (or BATON_AWS_REGION for Baton alone, or region in the AWS profile)',
      }),
    );
    return [region, await credentialsCheck(client, who, timeoutMs)];
  } finally {
    client.destroy();
  }
}

async function credentialsCheck(client: ECSClient, who: string, timeoutMs: number): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const found = await Promise.race([client.config.credentials(), timeout]);
    if (found === 'timeout')
      return {
        name: 'aws credentials',
        status: 'fail',
        detail: `the AWS credential chain found nothing within ${timeoutMs / 1000} s ${who} (it ends asking the EC2 instance metadata service)`,
        fix: `${CREDENTIALS_FIX}; off EC2, AWS_EC2_METADATA_DISABLED=true skips the metadata service`,
      };
    const codes = Object.keys((found as { $source?: Record<string, string> }).$source ?? {});
    const from = codes.map((c) => SOURCES[c]).find((s) => s !== undefined);
    const key = found.accessKeyId ? `access key …${found.accessKeyId.slice(-4)}` : 'credentials';
    const expires = found.expiration ? `, expiring ${found.expiration.toISOString()}` : '';
    return {
      name: 'aws credentials',
      status: 'ok',
      detail: `${key}${from ? ` from ${from}` : ''}${expires} ${who}`,
    };
  } catch (err) {
    return {
      name: 'aws credentials',
      status: 'fail',
      detail: `no AWS credentials ${who}: ${(err as Error).message}`,
      fix: CREDENTIALS_FIX,
    };
  } finally {
    clearTimeout(timer);
  }
}
