import { HELLO_REPO } from '../fixtures/docker/build-hello-image.js';

export interface DockerSpec {
  version: string;
  /** Image tag: the one the test built. */
  tag?: string;
  env?: Record<string, string>;
  startTimeout?: string;
  /** `traffic.router` as one line of YAML (default: the embedded proxy). */
  router?: string;
  /** `strategy` as one line of YAML (default: rolling, maxSurge 1, maxUnavailable 0). */
  strategy?: string;
}

/** baton.yaml of the containerised examples/hello (image built locally by the fixture), 2 replicas, rolling. */
export function helloDockerYaml(listen: number, s: DockerSpec): string {
  const env = { VERSION: s.version, ...s.env };
  return `services:
  hello:
    runtime: docker
    image: ${HELLO_REPO}
    tag: ${s.tag}
    port: 3000
    env:
${Object.entries(env)
  .map(([k, v]) => `      ${k}: "${v}"`)
  .join('\n')}
    replicas: 2
    probe:
      http: { path: /health }
      interval: 200ms
      timeout: 1s
      startTimeout: ${s.startTimeout ?? '15s'}
    traffic:
      listen: 127.0.0.1:${listen}
      drainTimeout: 10s${s.router ? `\n      router: ${s.router}` : ''}
    strategy: ${s.strategy ?? '{ type: rolling, maxSurge: 1, maxUnavailable: 0 }'}
    stopTimeout: 5s
`;
}
