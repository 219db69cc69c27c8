import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { SpecError } from '../../src/core/errors.js';
import { loadSpecFile, loadSpecText } from '../../src/spec/load.js';
import { DEFAULTS } from '../../src/spec/schema.js';
import { STARTER_YAML } from '../../src/spec/starter.js';
import { load, tree, WEB } from './helpers.js';

describe('valid files', () => {
  test('examples/haproxy/baton.yaml: router haproxy with its defaults filled in', async () => {
    const file = path.resolve(import.meta.dirname, '../../examples/haproxy/baton.yaml');
    const { spec } = await loadSpecFile(file, { env: {} });
    expect(spec.services.hello!.traffic.router).toEqual({
      kind: 'haproxy',
      sockets: ['/tmp/baton-example-haproxy.sock'],
      backend: 'hello',
      serverOptions: 'check inter 1s fall 2 rise 1',
      removeTimeout: 10_000,
      reconcileInterval: 2_000,
    });
  });

  test('defaults are applied', async () => {
    const { spec, secretPaths, file } = await load({ 'baton.yaml': `services:\n${WEB}` });
    expect(path.basename(file)).toBe('baton.yaml');
    expect(secretPaths).toEqual([]);
    expect(spec).toEqual({
      version: 1,
      services: {
        web: {
          runtime: 'process',
          command: 'node',
          args: ['server.js'],
          env: {},
          replicas: DEFAULTS.replicas,
          probe: { tcp: {}, ...DEFAULTS.probe },
          traffic: {
            listen: '127.0.0.1:8080',
            drainTimeout: DEFAULTS.drainTimeout,
            router: { kind: 'proxy' },
          },
          strategy: { type: 'rolling', maxSurge: '25%', maxUnavailable: '25%', onInterrupt: 'auto' },
          stopTimeout: DEFAULTS.stopTimeout,
        },
      },
    });
  });

  test('durations become milliseconds', async () => {
    const { spec } = await loadSpecText(
      'services:\n  web:\n    command: [node, server.js]\n    probe: {http: {path: /up}, interval: 500ms, timeout: 2s, startTimeout: 1.5m}\n    traffic: {listen: "[::1]:8080", drainTimeout: 1h, keepAliveTimeout: 90s}\n    stopTimeout: 250\n',
      'baton.yaml',
      { env: {} },
    );
    const web = spec.services.web!;
    expect(web.probe).toMatchObject({ interval: 500, timeout: 2000, startTimeout: 90_000 });
    expect(web.traffic.drainTimeout).toBe(3_600_000);
    expect(web.traffic.keepAliveTimeout).toBe(90_000);
    expect(web.stopTimeout).toBe(250);
    expect(web.runtime === 'process' && web.command).toEqual(['node', 'server.js']);
  });

  test('loadSpecText resolves tag paths next to the named file', async () => {
    const dir = await tree({ 'token.txt': 't' });
    const { spec } = await loadSpecText(
      `services:\n${WEB}    env: {T: !file token.txt}\n`,
      path.join(dir, 'x.yaml'),
    );
    expect(spec.services.web!.env.T).toBe('t');
  });

  test('a missing spec file is a SpecError', async () => {
    const err = await loadSpecFile('/nonexistent/baton.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).issues[0]).toMatchObject({
      file: '/nonexistent/baton.yaml',
      line: 1,
      path: '',
    });
    expect((err as SpecError).exitCode).toBe(2);
  });
});

describe('--set', () => {
  test('values are parsed as YAML scalars and applied before validation', async () => {
    const { spec } = await load(
      { 'baton.yaml': `services:\n${WEB}` },
      {
        set: [
          'services.web.replicas=3',
          'services.web.env.VERSION=v2',
          'services.web.env.DEBUG=true',
          'services.web.probe.http.path=/up',
          'services.web.args=[a.js, --flag]',
          'services.web.strategy.type=replace',
          'services.web.cwd=',
        ],
      },
    );
    expect(spec.services.web).toMatchObject({
      replicas: 3,
      env: { VERSION: 'v2', DEBUG: 'true' },
      probe: { http: { path: '/up', status: 200 } },
      args: ['a.js', '--flag'],
      strategy: { type: 'replace' },
      cwd: '',
    });
  });

  test('replaces a tagged value, which then is neither a failure nor a secret', async () => {
    const { spec, secretPaths } = await load(
      { 'baton.yaml': `services:\n${WEB}    env:\n      A: !env MISSING\n      B: !env B\n` },
      { set: ['services.web.env.A=fixed'], env: { B: 'b' } },
    );
    expect(spec.services.web!.env).toEqual({ A: 'fixed', B: 'b' });
    expect(secretPaths).toEqual(['services.web.env.B']);
  });

  test('overrides a value picked by a profile', async () => {
    const { spec } = await load(
      { 'baton.yaml': `services:\n${WEB}    replicas: !profile {prod: 4, default: 1}\n` },
      { profile: 'prod', set: ['services.web.replicas=7'] },
    );
    expect(spec.services.web!.replicas).toBe(7);
  });
});

describe('starter', () => {
  test('is valid and deploys the hello app', async () => {
    const { spec } = await loadSpecText(STARTER_YAML, 'baton.yaml', { env: {} });
    const hello = spec.services.hello!;
    expect(hello).toMatchObject({ runtime: 'process', command: 'node', args: ['server.js'] });
    expect(hello.probe).toMatchObject(DEFAULTS.probe);
    expect(hello.traffic.drainTimeout).toBe(DEFAULTS.drainTimeout);
    expect(hello.stopTimeout).toBe(DEFAULTS.stopTimeout);
    expect(hello.strategy).toEqual({
      type: 'rolling',
      maxSurge: DEFAULTS.maxSurge,
      maxUnavailable: DEFAULTS.maxUnavailable,
      onInterrupt: 'auto',
    });
  });

  test('documents every field', () => {
    const fields = [
      'version',
      'services',
      'runtime',
      'command',
      'args',
      'cwd',
      'env',
      'replicas',
      'probe',
      'http',
      'path',
      'status',
      'host',
      'tcp',
      'exec',
      'interval',
      'timeout',
      'healthyThreshold',
      'unhealthyThreshold',
      'startTimeout',
      'traffic',
      'listen',
      'drainTimeout',
      'strategy',
      'type',
      'maxSurge',
      'maxUnavailable',
      'stopTimeout',
    ];
    for (const f of fields) expect(STARTER_YAML).toMatch(new RegExp(`^\\s*#?\\s*${f}:`, 'm'));
    for (const tag of ['!env', '!file', '!base64', '!include', '!profile'])
      expect(STARTER_YAML).toContain(tag);
  });
});

test('docs/baton-yaml.md mentions every tag and top-level service field', async () => {
  const doc = await readFile(new URL('../../docs/baton-yaml.md', import.meta.url), 'utf8');
  for (const word of [
    '!env',
    '!file',
    '!base64',
    '!include',
    '!profile',
    '--set',
    'maxUnavailable',
    'startTimeout',
    'drainTimeout',
  ]) {
    expect(doc).toContain(word);
  }
});
