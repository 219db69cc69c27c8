import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  baton,
  type Daemon,
  freePort,
  type HelloSpec,
  helloYaml,
  startDaemon,
  type Workspace,
  workspace,
} from '../helpers/baton.js';
import { promtoolCheck, requirePromtool, sample, samples } from '../helpers/promtool.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

const S = 'hello';
const rev = (revision: number, more: Record<string, string> = {}) => ({
  service: S,
  revision: String(revision),
  ...more,
});

/**
 * One control plane (proxy with 2 workers, `--metrics-listen`) serves the whole file: metrics are
 * checked by promtool and by exact deltas of the requests sent; notifications reach local receivers with
 * the exact payloads, and a slow or dead receiver never holds a deploy.
 */
describe.runIf(requirePromtool())('metrics and notifications of a control plane', () => {
  let ws: Workspace;
  let daemon: Daemon;
  let port: number;
  let token: string;
  let metricsAt: string;
  let hooks: Receiver;
  const receivers: Receiver[] = [];

  const deploy = (spec: Omit<HelloSpec, 'listen'>, topLevel = '') => {
    writeFileSync(ws.specFile, `${helloYaml({ ...spec, listen: port })}${topLevel}`);
    return baton(['deploy', '-f', ws.specFile], { dataDir: ws.dataDir });
  };
  const scrapeApi = async (auth = true) => {
    const r = await request(`${daemon.url}/metrics`, {
      headers: auth ? { authorization: `Bearer ${token}` } : {},
    });
    return { status: r.statusCode, type: r.headers['content-type'], text: await r.body.text() };
  };
  const scrapePlain = async () => (await request(`http://${metricsAt}/metrics`)).body.text();
  /** `n` requests, each on a new connection (so the kernel spreads them over both proxy workers). */
  const send = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = await request(`http://127.0.0.1:${port}/`, { reset: true });
      await r.body.text();
      expect(r.statusCode).toBe(200);
    }
  };

  beforeAll(async () => {
    ws = workspace();
    port = await freePort();
    hooks = await startReceiver();
    receivers.push(hooks);
    daemon = await startDaemon(ws.dataDir, { BATON_PROXY_WORKERS: '2' }, ['--metrics-listen', '127.0.0.1:0']);
    token = readFileSync(join(ws.dataDir, 'token'), 'utf8').trim();
    metricsAt = (JSON.parse(readFileSync(join(ws.dataDir, 'api.json'), 'utf8')) as { metrics: string })
      .metrics;
    const r = await deploy({ version: 'v1' });
    expect(r.code, r.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await daemon?.kill();
    await ws?.cleanup();
    await Promise.all(receivers.map((r) => r.close()));
  });

  it('serves /metrics on the API with a token, and on --metrics-listen without one; promtool accepts both', async () => {
    expect((await scrapeApi(false)).status).toBe(401);
    const api = await scrapeApi();
    expect(api.status).toBe(200);
    expect(api.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const plain = await scrapePlain();
    for (const text of [api.text, plain]) {
      expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
      for (const family of [
        'baton_proxy_requests_total',
        'baton_proxy_request_duration_seconds',
        'baton_deploys_total',
        'baton_instances',
      ])
        expect(text).toContain(`# TYPE ${family} `);
    }
    const all = samples(plain);
    expect(sample(all, 'baton_proxy_up')).toBe(1);
    expect(sample(all, 'baton_instances', rev(1, { state: 'running' }))).toBe(2);
    expect(sample(all, 'baton_proxy_backends', rev(1, { state: 'active', healthy: 'true' }))).toBe(2);
  });

  it('counters and the histogram move by exactly the requests sent; a deploy is counted and notified', async () => {
    const before = samples(await scrapePlain());
    await send(30);
    const after = samples(await scrapePlain());
    const delta = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(delta('baton_proxy_requests_total', rev(1, { status_class: '2xx' }))).toBe(30);
    expect(delta('baton_proxy_requests_total', rev(1, { status_class: '5xx' }))).toBe(0);
    expect(delta('baton_proxy_request_errors_total', rev(1))).toBe(0);
    expect(delta('baton_proxy_request_duration_seconds_count', rev(1))).toBe(30);
    expect(delta('baton_proxy_request_duration_seconds_bucket', rev(1, { le: '+Inf' }))).toBe(30);
    expect(delta('baton_proxy_request_duration_seconds_sum', rev(1))).toBeGreaterThan(0);
    expect(delta('baton_proxy_connections_total', { listener: `127.0.0.1:${port}`, role: 'main' })).toBe(30);
    expect(sample(after, 'baton_proxy_requests_in_flight', rev(1))).toBe(0);

    // Receivers from the file's top-level notify: a JSON webhook and a Slack-compatible one.
    const notify = `notify:\n  - webhook: ${hooks.url}/json\n  - slack: ${hooks.url}/slack\n`;
    const r = await deploy({ version: 'v2' }, notify);
    expect(r.code, r.stderr).toBe(0);
    await send(20);
    const done = samples(await scrapePlain());
    const outcome = { service: S, strategy: 'rolling', outcome: 'succeeded' };
    expect(
      sample(done, 'baton_deploys_total', outcome) - sample(before, 'baton_deploys_total', outcome),
    ).toBe(1);
    expect(
      sample(done, 'baton_deploy_duration_seconds_count', outcome) -
        sample(before, 'baton_deploy_duration_seconds_count', outcome),
    ).toBe(1);
    expect(sample(done, 'baton_proxy_requests_total', rev(2, { status_class: '2xx' }))).toBe(20);
    expect(sample(done, 'baton_proxy_request_duration_seconds_count', rev(2))).toBe(20);
    expect(sample(done, 'baton_instances', rev(2, { state: 'running' }))).toBe(2);
    expect(sample(done, 'baton_deploys_running', { service: S })).toBe(0);

    await waitFor(() => hooks.got.length === 4, { message: 'four notifications', timeoutMs: 20_000 });
    const history = JSON.parse((await baton(['history', S, '--json'], { dataDir: ws.dataDir })).stdout) as {
      deployments: Array<{ id: string; toRevision: number }>;
    };
    const deployment = history.deployments.find((d) => d.toRevision === 2)!.id;
    const json = hooks.got.filter((g) => g.path === '/json').map((g) => g.body as Record<string, unknown>);
    for (const b of json) expect(Date.parse(b.at as string)).not.toBeNaN();
    const common = {
      service: S,
      deployment,
      kind: 'deploy',
      strategy: 'rolling',
      revision: 2,
      fromRevision: 1,
    };
    expect(json.map(({ at: _at, ...rest }) => rest)).toEqual([
      {
        event: 'started',
        ...common,
        message: 'deploy of hello to revision 2 started (rolling from revision 1)',
      },
      { event: 'succeeded', ...common, state: 'succeeded', message: 'hello revision 2 is serving' },
    ]);
    expect(hooks.got.filter((g) => g.path === '/slack').map((g) => g.body)).toEqual([
      { text: '[baton] hello started: deploy of hello to revision 2 started (rolling from revision 1)' },
      { text: '[baton] hello succeeded: hello revision 2 is serving' },
    ]);
  }, 120_000);

  it('a slow or dead receiver never holds a deploy; a failed deploy notifies failed, then rolled-back', async () => {
    const slow = await startReceiver(() => 'hold');
    const dead = await startReceiver();
    receivers.push(slow);
    await dead.close();
    const secretPath = '/services/T000/B000/secret-token-xyz';
    hooks.got.length = 0;
    // The service's own list replaces the top-level one; the good receiver asks for two events only.
    const extra = [
      'notify:',
      `  - slack: ${slow.url}${secretPath}`,
      `  - webhook: ${dead.url}${secretPath}`,
      `  - webhook: ${hooks.url}/only-failures`,
      '    events: [failed, rolled-back]',
    ].join('\n');
    const started = Date.now();
    const r = await deploy({ version: 'v3', env: { HEALTH: 'fail' }, startTimeout: '2s', extra });
    const took = Date.now() - started;
    const slowAtReturn = slow.got.map((g) => (g.body as { text: string }).text);
    expect(r.code, r.stderr).toBe(1);
    // The slow receiver accepts and never answers (each try gives up after 5 s, 5 tries with backoff:
    // ~40 s per notification). Had the deploy waited for it, the last notification (rolled-back) would
    // have reached it before the CLI returned; it is still queued behind the first.
    expect(
      slowAtReturn.every((t) => t.startsWith('[baton] hello started:')),
      slowAtReturn.join('\n'),
    ).toBe(true);
    expect(took).toBeLessThan(60_000);
    await waitFor(() => slow.got.length >= 1, { message: 'the slow receiver got the first notification' });
    await waitFor(() => hooks.got.length === 2, { message: 'failed and rolled-back', timeoutMs: 20_000 });
    const bodies = hooks.got.map((g) => g.body as Record<string, unknown>);
    expect(bodies.map((b) => [b.event, b.state, b.revision, b.fromRevision])).toEqual([
      ['failed', 'rolled-back', 3, 2],
      ['rolled-back', 'rolled-back', 3, 2],
    ]);
    expect(bodies[0]!.message).toMatch(
      /^deploy of hello revision 3 failed: .*rolled back, revision 2 keeps serving$/,
    );
    expect(bodies[1]!.message).toBe('hello is back on revision 2');

    const m = samples(await scrapePlain());
    expect(
      sample(m, 'baton_deploys_total', { service: S, strategy: 'rolling', outcome: 'rolled_back' }),
    ).toBe(1);
    expect(sample(m, 'baton_rollbacks_total', { service: S, trigger: 'failed_deploy' })).toBe(1);

    // The URLs are secrets: nowhere in history, status, metrics or the control plane's log.
    await waitFor(() => /notification not delivered/.test(daemon.output()), { message: 'a retry logged' });
    const history = await baton(['history', S, '--json'], { dataDir: ws.dataDir });
    const status = await baton(['status', '--json'], { dataDir: ws.dataDir });
    for (const text of [history.stdout, status.stdout, await scrapePlain(), daemon.output()])
      expect(text).not.toContain('secret-token-xyz');
    expect(history.stdout).toContain('[secret]');
  }, 120_000);
});
