import { describe, expect, test } from 'vitest';
import { actionFor, refMatches } from '../../src/spec/pipeline.js';
import { issuesOf, load, WEB } from './helpers.js';

/** `web` plus two environments and a pipeline; `o` replaces one part per case. */
const yaml = (o: { staging?: string; pipeline?: string } = {}) => `services:
${WEB}    env:
      PASSWORD: !env PASSWORD
environments:
  staging:
    api: https://staging.example:7607
    token: { env: STAGING_TOKEN }
    ca: ./ca.pem
    services:
      web:
${
  o.staging ??
  `        replicas: 3
        env: { MODE: staging }`
}
  production:
    nats: [nats://127.0.0.1:4222]
pipeline:
  test: npm test
  refs:
${
  o.pipeline ??
  `    refs/heads/main: { build: true, deploy: production }
    refs/tags/*-staging: { deploy: staging }`
}
`;

describe('environments: overrides merged onto the service and validated as a whole', () => {
  test('--env merges mappings key by key and replaces the rest; without --env the file is as written', async () => {
    const env = { PASSWORD: 's3cret' };
    const plain = await load({ 'baton.yaml': yaml() }, { env });
    expect(plain.spec.services.web!.replicas).toBe(1);
    const staged = await load({ 'baton.yaml': yaml() }, { env, environment: 'staging' });
    expect(staged.spec.services.web!.replicas).toBe(3);
    expect(staged.spec.services.web!.env).toEqual({ PASSWORD: 's3cret', MODE: 'staging' });
    // A secret of the base stays one after the merge.
    expect(staged.secretPaths).toContain('services.web.env.PASSWORD');
  });

  test('--set applies after the environment: the command line wins', async () => {
    const r = await load(
      { 'baton.yaml': yaml() },
      { env: { PASSWORD: 'x' }, environment: 'staging', set: ['services.web.replicas=5'] },
    );
    expect(r.spec.services.web!.replicas).toBe(5);
  });

  test('an override of an unknown field: file:line and the override path, with or without --env, once', async () => {
    const bad = yaml({ staging: '        replcas: 3' });
    for (const environment of [undefined, 'staging']) {
      const issues = await issuesOf({ 'baton.yaml': bad }, { env: { PASSWORD: 'x' }, environment });
      expect(issues).toEqual([
        {
          file: 'baton.yaml',
          line: 16,
          column: 9,
          path: 'environments.staging.services.web.replcas',
          message: 'unknown key "replcas" (did you mean "replicas"?)',
        },
      ]);
    }
  });

  test('an override that breaks a cross-field rule of the merged service is reported at the override', async () => {
    const issues = await issuesOf(
      { 'baton.yaml': yaml({ staging: '        probe: { http: {}, exec: { command: ./x } }' }) },
      { env: { PASSWORD: 'x' } },
    );
    expect(issues).toMatchObject([
      {
        line: 16,
        path: 'environments.staging.services.web.probe',
        message: 'expected exactly one of http, tcp or exec, found 2',
      },
    ]);
  });

  test('an override of a service the file does not declare', async () => {
    const issues = await issuesOf(
      { 'baton.yaml': yaml({ staging: '        replicas: 2\n      api: { replicas: 1 }' }) },
      { env: { PASSWORD: 'x' } },
    );
    expect(issues).toMatchObject([
      {
        line: 17,
        path: 'environments.staging.services.api',
        message: 'overrides service "api", which services does not declare (declared: web)',
      },
    ]);
  });

  test('an unknown --env names the declared ones', async () => {
    const issues = await issuesOf({ 'baton.yaml': yaml() }, { env: { PASSWORD: 'x' }, environment: 'prod' });
    expect(issues).toMatchObject([
      { line: 9, path: 'environments', message: 'no environment "prod" (declared: staging, production)' },
    ]);
  });

  test('api and nats are exclusive; a CA needs https', async () => {
    const text = yaml().replace('api: https://', 'api: http://').replace('nats: [', 'api: x:1\n    nats: [');
    const issues = await issuesOf({ 'baton.yaml': text }, { env: { PASSWORD: 'x' } });
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ['environments.staging.ca', 'a CA file needs an https:// api address'],
      ['environments.production', 'expected exactly one of api (a control plane) or nats (a cluster)'],
    ]);
  });
});

describe('pipeline: ref patterns to actions', () => {
  test('a rule deploying to an unknown environment', async () => {
    const issues = await issuesOf(
      { 'baton.yaml': yaml({ pipeline: '    refs/tags/*-prod: { deploy: prod }' }) },
      { env: { PASSWORD: 'x' } },
    );
    expect(issues).toMatchObject([
      {
        line: 23,
        path: 'pipeline.refs.refs/tags/*-prod.deploy',
        message: 'unknown environment "prod" (environments declares: staging, production)',
      },
    ]);
  });

  test('a bad ref pattern is reported at its key', async () => {
    for (const bad of ['"refs/heads/a b"', 'main', 'refs/heads/a..b', 'refs/remotes/x']) {
      const issues = await issuesOf(
        { 'baton.yaml': yaml({ pipeline: `    ${bad}: { test: true }` }) },
        { env: { PASSWORD: 'x' } },
      );
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ line: 23, column: 5 });
      expect(issues[0]!.message).toMatch(/expected a ref pattern such as refs\/heads\/main/);
    }
  });

  test('building a service that has no image', async () => {
    const text = yaml().replace('  refs:\n', '  build:\n    web: { context: . }\n  refs:\n');
    const issues = await issuesOf({ 'baton.yaml': text }, { env: { PASSWORD: 'x' } });
    expect(issues).toMatchObject([
      {
        path: 'pipeline.build.web',
        message: 'service "web" has runtime process: only docker services have images to build',
      },
    ]);
  });

  test('the first matching rule wins; an unmatched ref only runs the tests', async () => {
    const { spec } = await load(
      {
        'baton.yaml': yaml({
          pipeline: `    refs/heads/main: { build: true, deploy: production }
    refs/tags/*-staging: { deploy: staging }
    refs/heads/*-dev: { build: true }
    refs/heads/*: { test: false }`,
        }),
      },
      { env: { PASSWORD: 'x' } },
    );
    const pick = (ref: string) => {
      const { rule, ...a } = actionFor(spec.pipeline, ref);
      return [rule, a];
    };
    expect(pick('refs/heads/main')).toEqual([
      'refs/heads/main',
      { test: true, build: true, deploy: 'production' },
    ]);
    expect(pick('refs/tags/v1-staging')).toEqual([
      'refs/tags/*-staging',
      { test: false, build: false, deploy: 'staging' },
    ]);
    expect(pick('refs/heads/feature/x-dev')).toEqual(['refs/heads/*-dev', { test: true, build: true }]);
    expect(pick('refs/heads/feature')).toEqual(['refs/heads/*', { test: false, build: false }]);
    expect(pick('refs/tags/v1')).toEqual(['(no rule: tests only)', { test: true, build: false }]);
    expect(refMatches('refs/tags/*-prod', 'refs/tags/v1-prod-x')).toBe(false);
  });
});

describe('examples/pipeline/baton.yaml', () => {
  test('is valid, with and without each environment', async () => {
    const { loadSpecFile } = await import('../../src/spec/load.js');
    const file = new URL('../../examples/pipeline/baton.yaml', import.meta.url).pathname;
    for (const environment of [undefined, 'staging', 'production']) {
      const r = await loadSpecFile(file, { env: { REGISTRY_PASSWORD: 'x' }, environment });
      expect(Object.keys(r.spec.environments ?? {})).toEqual(['staging', 'production']);
    }
  });
});
