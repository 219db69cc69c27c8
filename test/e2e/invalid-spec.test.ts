import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/client.js';
import {
  baton,
  type Daemon,
  freePort,
  helloYaml,
  startDaemon,
  type Workspace,
  workspace,
} from '../helpers/baton.js';

interface Snapshot {
  status: { services: Array<{ service: string; current: number | null; instances: unknown[] }> };
  history: { deployments: unknown[] };
}

const good = `services:
  web:
    command: node
    args: [server.js]
    replicas: 2
    probe:
      http: { path: /health }
      interval: 1s
    traffic:
      listen: 127.0.0.1:18081
`;

/** Each case: the file, and what the error must say (file:line, field path, message). */
const CASES: Array<{
  name: string;
  yaml: string;
  files?: Record<string, string>;
  args?: string[];
  line: number;
  path: string;
  message: RegExp;
}> = [
  {
    name: 'unknown key',
    yaml: good.replace('replicas: 2', 'replcas: 2'),
    line: 5,
    path: 'services.web.replcas',
    message: /unknown key "replcas"/,
  },
  {
    name: 'wrong type',
    yaml: good.replace('replicas: 2', 'replicas: two'),
    line: 5,
    path: 'services.web.replicas',
    message: /expected.*number/i,
  },
  {
    name: 'missing command',
    yaml: good.replace('    command: node\n', ''),
    line: 3,
    path: 'services.web.command',
    message: /command/,
  },
  {
    name: 'negative replicas',
    yaml: good.replace('replicas: 2', 'replicas: -1'),
    line: 5,
    path: 'services.web.replicas',
    message: /0 or more/,
  },
  {
    name: 'bad duration',
    yaml: good.replace('interval: 1s', 'interval: 1 sec'),
    line: 8,
    path: 'services.web.probe.interval',
    message: /duration/,
  },
  {
    name: 'unknown tag',
    yaml: good.replace('args: [server.js]', 'args: [!envv HOME]'),
    line: 4,
    path: 'services.web.args.0',
    message: /unknown tag !envv/,
  },
  {
    name: 'missing !file',
    yaml: good.replace('args: [server.js]', 'args: [!file ./nope.txt]'),
    line: 4,
    path: 'services.web.args.0',
    message: /nope\.txt/,
  },
  {
    name: 'YAML syntax error',
    yaml: good.replace('args: [server.js]', 'args: [server.js'),
    line: 5,
    path: '',
    message: /./,
  },
  {
    name: 'duplicate port',
    yaml: `${good}  api:\n    command: node\n    traffic:\n      listen: 127.0.0.1:18081\n`,
    line: 14,
    path: 'services.api.traffic.listen',
    message: /port 18081 is already used by service web/,
  },
  {
    name: 'bad profile',
    yaml: good.replace('replicas: 2', 'replicas: !profile { dev: 1, prod: 3 }'),
    args: ['--profile', 'staging'],
    line: 5,
    path: 'services.web.replicas',
    message: /staging/,
  },
  {
    name: 'missing env var',
    yaml: good.replace('command: node', 'command: !env BATON_TEST_SURELY_UNSET'),
    line: 3,
    path: 'services.web.command',
    message: /BATON_TEST_SURELY_UNSET/,
  },
  {
    name: 'bad listen address',
    yaml: good.replace('127.0.0.1:18081', '127.0.0.1'),
    line: 10,
    path: 'services.web.traffic.listen',
    message: /host:port/,
  },
];

describe('invalid baton.yaml: exit 2, file:line and field path, nothing changed', () => {
  let ws: Workspace;
  let daemon: Daemon;
  let before: Snapshot;

  /** What `status --json` and `history --json` print, from the API (cheap enough to take per case). */
  const snapshot = async (): Promise<Snapshot> => {
    const api = ApiClient.from({ dataDir: ws.dataDir });
    return {
      status: await api.json<Snapshot['status']>('GET', '/v1/status'),
      history: await api.json<Snapshot['history']>('GET', '/v1/services/hello/history?limit=10'),
    };
  };

  beforeAll(async () => {
    ws = workspace();
    daemon = await startDaemon(ws.dataDir);
    writeFileSync(ws.specFile, helloYaml({ version: 'v1', listen: await freePort() }));
    expect((await baton(['deploy', '-f', ws.specFile], { dataDir: ws.dataDir })).code).toBe(0);
    before = await snapshot();
    // Something to change: revision 1 serving on 2 instances, one deployment in the history.
    expect(before.status.services.map((s) => [s.service, s.current, s.instances.length])).toEqual([
      ['hello', 1, 2],
    ]);
    expect(before.history.deployments).toHaveLength(1);
  });

  afterAll(async () => {
    await daemon?.kill();
    await ws?.cleanup();
  });

  // Every command reads the spec through the same validation: each case runs `deploy` and one other
  // command in turn (each taken by 6+ cases), as each CLI run costs a second or more on a busy machine.
  const OTHER_COMMANDS = [['plan'], ['deploy', '--dry-run']];
  CASES.forEach((c, index) => {
    it(`${c.name}`, async () => {
      const dir = join(ws.dir, c.name.replace(/\W+/g, '-'));
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'baton.yaml');
      writeFileSync(file, c.yaml);
      for (const cmd of [['deploy'], OTHER_COMMANDS[index % OTHER_COMMANDS.length]!]) {
        const r = await baton([...cmd, '-f', file, ...(c.args ?? [])], { dataDir: ws.dataDir, cwd: dir });
        expect(r.code, r.stderr).toBe(2);
        const location = new RegExp(
          `${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${c.line}:\\d+: ${c.path ? `${c.path.replace(/\./g, '\\.')}: ` : ''}`,
        );
        expect(r.stderr).toMatch(location);
        expect(r.stderr).toMatch(c.message);
      }
      const json = await baton(['deploy', '-f', file, '--json', ...(c.args ?? [])], {
        dataDir: ws.dataDir,
        cwd: dir,
      });
      expect(json.code).toBe(2);
      const parsed = JSON.parse(json.stdout) as {
        ok: boolean;
        error: { code: string; details: { issues: Array<{ line: number; path: string }> } };
      };
      expect(parsed.error.code).toBe('SPEC_INVALID');
      expect(parsed.error.details.issues.some((i) => i.line === c.line && i.path === c.path)).toBe(true);
      // Changed nothing: same instances, same history (each case checks its own commands).
      expect(await snapshot()).toEqual(before);
    });
  });

  it('validates before contacting any daemon: exit 2 with no control plane, data dir untouched', async () => {
    const dataDir = join(ws.dir, 'never-created');
    const file = join(ws.dir, 'bad.yaml');
    writeFileSync(file, CASES[0]!.yaml);
    const r = await baton(['deploy', '-f', file], { dataDir, env: { BATON_API: '127.0.0.1:1' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown key "replcas"/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('an unknown service name or a bad flag is bad input too', async () => {
    const unknown = await baton(['deploy', 'nope', '-f', ws.specFile], { dataDir: ws.dataDir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/declares no service "nope" \(it declares: hello\)/);
    const flag = await baton(['deploy', '--frobnicate'], { dataDir: ws.dataDir });
    expect(flag.code).toBe(2);
    const set = await baton(['deploy', '-f', ws.specFile, '--set', 'novalue'], { dataDir: ws.dataDir });
    expect(set.code).toBe(2);
    expect(await snapshot()).toEqual(before);
  });
});
