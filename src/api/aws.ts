import { type AwsClients, awsClients } from '../cloud/aws/clients.js';

/**
 * The control plane's AWS clients, made once on first need (the first `runtime: ecs` or `router: alb`
 * service) and shared by both drivers. Credentials and region come from the AWS SDK's default chain of
 * `baton serve`'s environment (AWS_REGION, AWS_PROFILE, SSO, a container or instance role) — the control
 * plane's identity, never a service spec's; `BATON_AWS_ENDPOINT` points every service at one endpoint
 * (LocalStack, a private endpoint).
 */
export function lazyAwsClients(env: NodeJS.ProcessEnv = process.env): () => AwsClients {
  let made: AwsClients | undefined;
  return () => {
    made ??= awsClients({
      region: env.BATON_AWS_REGION || undefined,
      endpoint: env.BATON_AWS_ENDPOINT || undefined,
    });
    return made;
  };
}
