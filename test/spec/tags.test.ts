import { describe, expect, test } from 'vitest';
import { load } from './helpers.js';

const svc = (body: string) =>
  `services:\n  web:\n    command: node\n    traffic: {listen: "127.0.0.1:8080"}\n${body}`;

describe('!env', () => {
  test('reads the variable, falls back to a default, and accepts the sequence form', async () => {
    const { spec, secretPaths } = await load(
      {
        'baton.yaml': svc(
          '    env:\n      A: !env A\n      B: !env B:-fallback\n      C: !env [C, from-seq]\n      D: !env D:-\n      E: !env E:-unused\n',
        ),
      },
      { env: { A: 'a-value', E: 'e-value' } },
    );
    expect(spec.services.web!.env).toEqual({
      A: 'a-value',
      B: 'fallback',
      C: 'from-seq',
      D: '',
      E: 'e-value',
    });
    expect(secretPaths).toEqual([
      'services.web.env.A',
      'services.web.env.B',
      'services.web.env.C',
      'services.web.env.D',
      'services.web.env.E',
    ]);
  });

  test('an empty variable takes the default; without one it stays empty', async () => {
    const { spec } = await load(
      { 'baton.yaml': svc('    env:\n      A: !env A:-dflt\n      B: !env B\n') },
      { env: { A: '', B: '' } },
    );
    expect(spec.services.web!.env).toEqual({ A: 'dflt', B: '' });
  });

  test('values are strings, even when they look like numbers', async () => {
    const { spec } = await load(
      { 'baton.yaml': svc('    env:\n      PIN: !env PIN\n') },
      { env: { PIN: '0123' } },
    );
    expect(spec.services.web!.env.PIN).toBe('0123');
  });
});

describe('!file and !base64', () => {
  test('read files relative to the YAML file', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const { spec, secretPaths } = await load({
      'baton.yaml': svc(
        '    env:\n      TOKEN: !file secrets/token.txt\n      CERT: !base64 secrets/cert.der\n',
      ),
      'secrets/token.txt': 's3cret\n',
      'secrets/cert.der': bytes,
    });
    expect(spec.services.web!.env).toEqual({ TOKEN: 's3cret\n', CERT: bytes.toString('base64') });
    expect(secretPaths).toEqual(['services.web.env.CERT', 'services.web.env.TOKEN']);
  });
});

describe('!include', () => {
  test('nested includes resolve paths relative to the including file', async () => {
    const { spec, secretPaths } = await load({
      'baton.yaml': 'services: !include svc/all.yaml\n',
      'svc/all.yaml': 'web: !include web/web.yaml\n',
      'svc/web/web.yaml':
        'command: node\nprobe: !include ../probe.yaml\nenv: {KEY: !file key.txt}\ntraffic: {listen: "127.0.0.1:8080"}\n',
      'svc/probe.yaml': 'http: {path: /healthz}\ninterval: 250ms\n',
      'svc/web/key.txt': 'k',
    });
    expect(spec.services.web!.probe).toMatchObject({
      http: { path: '/healthz', status: 200 },
      interval: 250,
    });
    expect(spec.services.web!.env).toEqual({ KEY: 'k' });
    expect(secretPaths).toEqual(['services.web.env.KEY']);
  });

  test('the same file may be included twice when it is not a cycle', async () => {
    const { spec } = await load({
      'baton.yaml':
        'services:\n  a:\n    command: node\n    probe: !include probe.yaml\n    traffic: {listen: "127.0.0.1:8081"}\n  b:\n    command: node\n    probe: !include probe.yaml\n    traffic: {listen: "127.0.0.1:8082"}\n',
      'probe.yaml': 'tcp: {}\n',
    });
    expect(spec.services.a!.probe.tcp).toEqual({});
    expect(spec.services.b!.probe.tcp).toEqual({});
  });
});

describe('!profile', () => {
  const file = svc(
    '    replicas: !profile {dev: 1, prod: 4}\n    env: !profile\n      prod: {LOG: warn}\n      default: {LOG: debug}\n',
  );

  test('picks the entry named by the profile, else the default entry', async () => {
    const prod = await load({ 'baton.yaml': file }, { profile: 'prod' });
    expect(prod.spec.services.web).toMatchObject({ replicas: 4, env: { LOG: 'warn' } });
    const dev = await load({ 'baton.yaml': file }, { profile: 'dev' });
    expect(dev.spec.services.web).toMatchObject({ replicas: 1, env: { LOG: 'debug' } });
  });

  test('works inside included files and nests', async () => {
    const { spec, secretPaths } = await load(
      {
        'baton.yaml': 'services:\n  web: !include web.yaml\n',
        'web.yaml':
          'command: node\ntraffic: {listen: "127.0.0.1:8080"}\nprobe: !profile\n  prod: !include probes/prod.yaml\n  default: {tcp: {}}\n',
        'probes/prod.yaml': 'http: {path: !profile {prod: !env HEALTH_PATH, default: /}}\n',
      },
      { profile: 'prod', env: { HEALTH_PATH: '/ready' } },
    );
    expect(spec.services.web!.probe.http).toEqual({ path: '/ready', status: 200 });
    expect(secretPaths).toEqual(['services.web.probe.http.path']);
  });
});

test('YAML anchors and aliases work alongside tags', async () => {
  const { spec } = await load({
    'baton.yaml':
      'services:\n  a:\n    command: node\n    env: &env {A: !env [A, x]}\n    traffic: {listen: "127.0.0.1:8081"}\n  b:\n    command: node\n    env: *env\n    traffic: {listen: "127.0.0.1:8082"}\n',
  });
  expect(spec.services.b!.env).toEqual({ A: 'x' });
});
