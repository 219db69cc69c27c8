import { describe, expect, test } from 'vitest';
import type { LoadOptions } from '../../src/spec/load.js';
import { issuesOf, WEB } from './helpers.js';

interface Case {
  name: string;
  files: Record<string, string>;
  opts?: LoadOptions;
  /** The (only, unless `more`) issue: exact file, line, column and path, and a fragment of its message. */
  issue: { file: string; line: number; column: number; path: string; message: string };
  more?: boolean;
}

const listen = `    traffic: {listen: "127.0.0.1:8080"}\n`;

const cases: Case[] = [
  {
    name: 'unknown key (points at the key, suggests the known one)',
    files: { 'baton.yaml': `services:\n  web:\n    command: node\n    replcas: 2\n${listen}` },
    issue: {
      file: 'baton.yaml',
      line: 4,
      column: 5,
      path: 'services.web.replcas',
      message: 'unknown key "replcas" (did you mean "replicas"?)',
    },
  },
  {
    name: 'wrong type',
    files: { 'baton.yaml': `services:\n  web:\n    command: node\n    replicas: two\n${listen}` },
    issue: {
      file: 'baton.yaml',
      line: 4,
      column: 15,
      path: 'services.web.replicas',
      message: 'expected a number, found string "two"',
    },
  },
  {
    name: 'missing command (points at the parent mapping)',
    files: { 'baton.yaml': `services:\n  web:\n    args: [server.js]\n${listen}` },
    issue: {
      file: 'baton.yaml',
      line: 3,
      column: 5,
      path: 'services.web.command',
      message: 'required field "command" is missing',
    },
  },
  {
    name: 'negative replicas',
    files: { 'baton.yaml': `services:\n  web:\n    command: node\n    replicas: -1\n${listen}` },
    issue: {
      file: 'baton.yaml',
      line: 4,
      column: 15,
      path: 'services.web.replicas',
      message: 'replicas must be 0 or more, found number -1',
    },
  },
  {
    name: 'bad duration',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    probe:\n      tcp: {}\n      interval: 2 seconds\n${listen}`,
    },
    issue: {
      file: 'baton.yaml',
      line: 6,
      column: 17,
      path: 'services.web.probe.interval',
      message: 'expected a duration such as 500ms, 5s or 2m for probe.interval, found "2 seconds"',
    },
  },
  {
    name: 'unknown tag',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    env:\n      GREETING: !envv NAME\n${listen}`,
    },
    issue: {
      file: 'baton.yaml',
      line: 5,
      column: 17,
      path: 'services.web.env.GREETING',
      message: 'unknown tag !envv; known tags: !env, !file, !base64, !include, !profile',
    },
  },
  {
    name: 'missing !file',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    env:\n      TOKEN: !file secrets/token.txt\n${listen}`,
    },
    issue: {
      file: 'baton.yaml',
      line: 5,
      column: 14,
      path: 'services.web.env.TOKEN',
      message: '!file "secrets/token.txt": no such file',
    },
  },
  {
    name: 'YAML syntax error',
    files: { 'baton.yaml': `services:\n  web:\n    command: "node\n${listen}` },
    issue: {
      file: 'baton.yaml',
      line: 3,
      column: 19,
      path: '',
      message: 'invalid YAML: Missing closing "quote',
    },
    more: true,
  },
  {
    name: 'duplicate key',
    files: { 'baton.yaml': `services:\n  web:\n    command: node\n    command: deno\n${listen}` },
    issue: { file: 'baton.yaml', line: 4, column: 5, path: '', message: 'duplicate key "command"' },
  },
  {
    name: 'duplicate port across two services (points at the second listen)',
    files: {
      'baton.yaml': `services:\n${WEB}  api:\n    command: node\n    traffic:\n      listen: 0.0.0.0:8080\n`,
    },
    issue: {
      file: 'baton.yaml',
      line: 10,
      column: 15,
      path: 'services.api.traffic.listen',
      message: 'port 8080 is already used by service web',
    },
  },
  {
    name: 'bad profile name',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    replicas: !profile {dev: 1, prod: 3}\n${listen}`,
    },
    opts: { profile: 'staging' },
    issue: {
      file: 'baton.yaml',
      line: 4,
      column: 15,
      path: 'services.web.replicas',
      message: 'unknown profile "staging" and !profile has no default entry; available: dev, prod',
    },
  },
  {
    name: 'no profile given and no default',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    replicas: !profile {dev: 1, prod: 3}\n${listen}`,
    },
    issue: {
      file: 'baton.yaml',
      line: 4,
      column: 15,
      path: 'services.web.replicas',
      message: 'pass --profile with one of: dev, prod',
    },
  },
  {
    name: 'profile that no !profile knows, even with defaults',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    replicas: !profile {prod: 3, default: 1}\n${listen}`,
    },
    opts: { profile: 'prdo' },
    issue: {
      file: 'baton.yaml',
      line: 4,
      column: 15,
      path: '',
      message: 'profile "prdo" is not defined by any !profile; available: prod',
    },
  },
  {
    name: 'missing env var without default (reported once, not again as a missing command)',
    files: { 'baton.yaml': `services:\n  web:\n    command: !env APP_CMD\n${listen}` },
    issue: {
      file: 'baton.yaml',
      line: 3,
      column: 14,
      path: 'services.web.command',
      message: 'environment variable APP_CMD is not set',
    },
  },
  {
    name: 'include cycle',
    files: {
      'baton.yaml': 'services: !include services.yaml\n',
      'services.yaml': 'web: !include web/web.yaml\n',
      'web/web.yaml': `command: node\ntraffic: !include ../services.yaml\n`,
    },
    issue: {
      file: 'web/web.yaml',
      line: 2,
      column: 10,
      path: 'services.web.traffic',
      message: '!include cycle: services.yaml → web/web.yaml → services.yaml',
    },
  },
  {
    name: 'error inside an included file names that file and line',
    files: {
      'baton.yaml': 'services:\n  web: !include web.yaml\n',
      'web.yaml': `command: node\nreplicas: lots\ntraffic: {listen: "127.0.0.1:8080"}\n`,
    },
    issue: {
      file: 'web.yaml',
      line: 2,
      column: 11,
      path: 'services.web.replicas',
      message: 'expected a number, found string "lots"',
    },
  },
  {
    name: 'missing !include',
    files: { 'baton.yaml': 'services:\n  web: !include web.yaml\n' },
    issue: {
      file: 'baton.yaml',
      line: 2,
      column: 8,
      path: 'services.web',
      message: '!include "web.yaml": no such file',
    },
  },
  {
    name: 'probe with two kinds',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    probe: {http: {path: /}, tcp: {}}\n${listen}`,
    },
    issue: {
      file: 'baton.yaml',
      line: 4,
      column: 12,
      path: 'services.web.probe',
      message: 'expected exactly one of http, tcp or exec, found 2',
    },
  },
  {
    name: 'missing traffic.listen',
    files: { 'baton.yaml': 'services:\n  web:\n    command: node\n    traffic:\n      drainTimeout: 5s\n' },
    issue: {
      file: 'baton.yaml',
      line: 5,
      column: 7,
      path: 'services.web.traffic.listen',
      message: 'required field "listen" is missing',
    },
  },
  {
    name: 'unknown strategy type',
    files: { 'baton.yaml': `services:\n  web:\n    command: node\n    strategy: {type: linear}\n${listen}` },
    issue: {
      file: 'baton.yaml',
      line: 4,
      column: 22,
      path: 'services.web.strategy.type',
      message: 'expected one of "replace", "rolling", "blue-green", "canary", found string "linear"',
    },
  },
  {
    name: 'bad service name (points at the name)',
    files: { 'baton.yaml': `services:\n  Web_1:\n    command: node\n${listen}` },
    issue: {
      file: 'baton.yaml',
      line: 2,
      column: 3,
      path: 'services.Web_1',
      message: 'invalid name "Web_1": service names are lower-case',
    },
  },
  {
    name: 'malformed --set',
    files: { 'baton.yaml': `services:\n${WEB}` },
    opts: { set: ['services.web.replicas'] },
    issue: {
      file: '--set',
      line: 1,
      column: 1,
      path: '',
      message: 'expected KEY=VALUE such as services.web.replicas=3, found "services.web.replicas"',
    },
  },
  {
    name: 'a --set value that fails validation points at --set',
    files: { 'baton.yaml': `services:\n${WEB}` },
    opts: { set: ['services.web.replicas=-2'] },
    issue: {
      file: '--set',
      line: 1,
      column: 1,
      path: 'services.web.replicas',
      message: 'replicas must be 0 or more, found number -2',
    },
  },
  {
    name: '--set through a scalar',
    files: { 'baton.yaml': `services:\n${WEB}` },
    opts: { set: ['services.web.command.x=1'] },
    issue: {
      file: '--set',
      line: 1,
      column: 1,
      path: 'services.web.command.x',
      message: 'services.web.command is not a mapping',
    },
  },
  {
    name: 'an alias inside the value it names',
    files: { 'baton.yaml': `services:\n  web: &w\n    command: node\n    env: *w\n${listen}` },
    issue: {
      file: 'baton.yaml',
      line: 4,
      column: 10,
      path: 'services.web.env.env',
      message: 'alias *w refers to a value that contains it',
    },
    more: true,
  },
  {
    name: 'empty file',
    files: { 'baton.yaml': '' },
    issue: {
      file: 'baton.yaml',
      line: 1,
      column: 1,
      path: '',
      message: 'expected a mapping, found an empty value',
    },
  },
  {
    name: 'router haproxy without its stats sockets',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    traffic:\n      listen: "127.0.0.1:8080"\n      router: { kind: haproxy }\n`,
    },
    issue: {
      file: 'baton.yaml',
      line: 6,
      column: 15,
      path: 'services.web.traffic.router.sockets',
      message: 'required field "sockets" is missing',
    },
  },
  {
    name: 'router haproxy with an empty socket list',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    traffic:\n      listen: "127.0.0.1:8080"\n      router: { kind: haproxy, sockets: [] }\n`,
    },
    issue: {
      file: 'baton.yaml',
      line: 6,
      column: 41,
      path: 'services.web.traffic.router.sockets',
      message: 'expected at least one stats socket (level admin)',
    },
  },
  {
    name: 'unknown router kind',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    traffic:\n      listen: "127.0.0.1:8080"\n      router: { kind: nginx }\n`,
    },
    issue: {
      file: 'baton.yaml',
      line: 6,
      column: 23,
      path: 'services.web.traffic.router.kind',
      message: 'expected one of "proxy", "haproxy", "oci-lb", "alb", found string "nginx"',
    },
  },
  {
    name: 'a preview listener with router haproxy (only the embedded proxy serves one)',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    traffic:\n      listen: "127.0.0.1:8080"\n      preview: "127.0.0.1:8081"\n      router:\n        kind: haproxy\n        sockets: [/run/haproxy.sock]\n`,
    },
    issue: {
      file: 'baton.yaml',
      line: 6,
      column: 16,
      path: 'services.web.traffic.preview',
      message: 'a preview listener needs the embedded proxy (router: proxy)',
    },
  },
  {
    name: 'a keep-alive timeout that is not whole seconds (announced as Keep-Alive: timeout=N)',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    traffic:\n      listen: "127.0.0.1:8080"\n      keepAliveTimeout: 1500ms\n`,
    },
    issue: {
      file: 'baton.yaml',
      line: 6,
      column: 25,
      path: 'services.web.traffic.keepAliveTimeout',
      message: 'expected whole seconds, at least 1s',
    },
  },
  {
    name: 'a keep-alive timeout with router haproxy (set in its own configuration)',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    traffic:\n      listen: "127.0.0.1:8080"\n      keepAliveTimeout: 2m\n      router:\n        kind: haproxy\n        sockets: [/run/haproxy.sock]\n`,
    },
    issue: {
      file: 'baton.yaml',
      line: 6,
      column: 25,
      path: 'services.web.traffic.keepAliveTimeout',
      message: "keepAliveTimeout is the embedded proxy's (router: proxy)",
    },
  },
  {
    name: 'an upstream protocol the proxy does not speak',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    traffic:\n      listen: "127.0.0.1:8080"\n      upstream: h2\n`,
    },
    issue: {
      file: 'baton.yaml',
      line: 6,
      column: 17,
      path: 'services.web.traffic.upstream',
      message: 'expected http1 (HTTP/1.1, the default) or h2c',
    },
  },
  {
    name: 'an HAProxy backend name with a space',
    files: {
      'baton.yaml': `services:\n  web:\n    command: node\n    traffic:\n      listen: "127.0.0.1:8080"\n      router: { kind: haproxy, sockets: [/s], backend: "a b" }\n`,
    },
    issue: {
      file: 'baton.yaml',
      line: 6,
      column: 56,
      path: 'services.web.traffic.router.backend',
      message: 'expected an HAProxy backend name',
    },
  },
];

describe('invalid baton.yaml', () => {
  test.each(cases)('$name', async ({ files, opts, issue, more }) => {
    const issues = await issuesOf(files, opts);
    const { message, ...where } = issue;
    expect(issues[0]).toMatchObject(where);
    expect(issues[0]!.message).toContain(message);
    if (!more) expect(issues).toHaveLength(1);
  });

  test('collects every issue, in file order', async () => {
    const issues = await issuesOf({
      'baton.yaml':
        'services:\n  web:\n    replcas: 2\n    replicas: x\n    probe: {tcp: {}, timeout: soon}\n  api:\n    command: !env API_CMD\n    traffic: {listen: "127.0.0.1:9000"}\n',
    });
    expect(issues.map((i) => [i.line, i.path])).toEqual([
      [3, 'services.web.command'],
      [3, 'services.web.traffic'],
      [3, 'services.web.replcas'],
      [4, 'services.web.replicas'],
      [5, 'services.web.probe.timeout'],
      [7, 'services.api.command'],
    ]);
  });

  test('never shows a secret value in a message', async () => {
    const issues = await issuesOf(
      { 'baton.yaml': `services:\n  web:\n    command: node\n    replicas: !env REPLICAS\n${listen}` },
      { env: { REPLICAS: 'hunter2' } },
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toBe('expected a number, found a string (secret, not shown)');
  });
});
