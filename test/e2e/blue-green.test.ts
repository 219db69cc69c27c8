import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, type HelloFixture, helloFixture } from '../helpers/baton.js';
import { startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';

const text = async (url: string) => (await (await request(url)).body.text()).trim();

describe('blue-green, hooks and traffic hold', () => {
  let f: HelloFixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('the preview listener answers with the new version before promotion; rollback inside the window is instant under load', async () => {
    const preview = await freePort();
    const bg = '{ type: blue-green, scaleDownDelay: 60s }';
    f = await helloFixture({ version: 'v1', preview, strategy: bg });
    const load = startLoad(f.base, { rps: 200 });
    const deploying = f.deploy({ version: 'v2', preview, strategy: bg });
    await waitFor(async () => (await f!.status()).waiting === 'promotion', { timeoutMs: 30_000 });
    // Testers see v2 on the preview listener while users still get v1 only.
    expect(await text(`http://127.0.0.1:${preview}/`)).toBe('hello from v2');
    for (let i = 0; i < 20; i++) expect(await text(`${f.base}/`)).toBe('hello from v1');
    expect((await f.cli(['promote', 'hello'])).code).toBe(0);
    await waitFor(async () => (await f!.status()).waiting === 'rollback window', { timeoutMs: 30_000 });
    expect(await text(`${f.base}/`)).toBe('hello from v2');
    const v1 = (await f.status()).instances.filter((i) => i.revision === 1);
    expect(v1).toHaveLength(2);

    // Instant rollback: the v1 set is still running; nothing starts.
    const started = Date.now();
    const rb = await f.cli(['rollback', 'hello']);
    expect(rb.code).toBe(1);
    expect(rb.stderr).toMatch(/rollback requested/);
    expect(rb.stderr).not.toMatch(/start \d+ instance/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await text(`${f.base}/`)).toBe('hello from v1');
    expect((await deploying).code).toBe(1);
    const after = (await f.status()).instances;
    expect(after.map((i) => i.id).sort()).toEqual(v1.map((i) => i.id).sort());
    const report = await load.stop();
    expect(report.errors).toEqual([]);
    expect(report.failed).toBe(0);
  });

  it('promotes by itself after autoPromote and retires the old set after the window', async () => {
    f = await helloFixture({ version: 'v1', strategy: '{ type: blue-green, scaleDownDelay: 0 }' });
    const r = await f.deploy({
      version: 'v2',
      strategy: '{ type: blue-green, autoPromote: 1s, scaleDownDelay: 1s }',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/promoting in 1s/);
    expect((await f.status()).instances.map((i) => i.revision)).toEqual([2, 2]);
  });

  it('a failing pre-deploy hook stops the deploy before anything starts, with its output shown', async () => {
    f = await helloFixture({ version: 'v1' });
    const hook = join(f.ws.dir, 'migrate.sh');
    writeFileSync(
      hook,
      '#!/bin/sh\necho "migrating $BATON_SERVICE to revision $BATON_REVISION"\necho "relation users does not exist" >&2\nexit 3\n',
    );
    chmodSync(hook, 0o755);
    const before = await f.status();
    const r = await f.deploy({ version: 'v2', extra: `hooks:\n  pre-deploy: { command: ${hook} }` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the pre-deploy hook failed \(exit 3\)/);
    expect(r.stderr).toMatch(/migrating hello to revision 2/);
    expect(r.stderr).toMatch(/relation users does not exist/);
    expect(r.stderr).not.toMatch(/start \d+ instance/);
    expect((await f.status()).instances).toEqual(before.instances);
  });

  it('hooks get the deployment context as env and JSON; a failing check rolls back', async () => {
    f = await helloFixture({ version: 'v1' });
    const out = join(f.ws.dir, 'hook.log');
    const hooks = `hooks:\n  post-deploy: { command: "cat > ${out}; echo >> ${out}; echo $BATON_HOOK $BATON_FROM_REVISION >> ${out}" }`;
    expect((await f.deploy({ version: 'v2', extra: hooks })).code).toBe(0);
    await waitFor(() => existsSync(out));
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({
      service: 'hello',
      revision: 2,
      fromRevision: 1,
      hook: 'post-deploy',
    });
    expect(lines[1]).toBe('post-deploy 1');
    const check = `{ type: canary, steps: [{ setWeight: 50 }, { check: { http: { url: "${f.base}/", bodyContains: "from v9" } } }] }`;
    const r = await f.deploy({ version: 'v3', strategy: check });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/check failed: GET .* does not contain "from v9"/);
    // Both replicas of revision 2, none of the failed one (an empty list would not pass).
    expect((await f.status()).instances.map((i) => i.revision)).toEqual([2, 2]);
  });

  it('pause-traffic holds requests and loses none; maintenance serves a 503 page', async () => {
    f = await helloFixture({ version: 'v1' });
    expect((await f.cli(['pause-traffic', 'hello', '--max', '60s'])).code).toBe(0);
    const held = Array.from({ length: 30 }, (_, i) =>
      request(`${f!.base}/`, { method: i % 2 ? 'GET' : 'POST', body: i % 2 ? null : `n=${i}` }).then(
        async (r) => ({
          status: r.statusCode,
          body: await r.body.text(),
        }),
      ),
    );
    await waitFor(async () => (await f!.cli(['status'])).stdout.includes('traffic: hold'));
    // A deploy during the hold (the migration window) goes through; requests wait.
    expect((await f.deploy({ version: 'v2' })).code).toBe(0);
    expect((await f.cli(['resume-traffic', 'hello'])).code).toBe(0);
    const answers = await Promise.all(held);
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(200));
    expect(answers.every((a) => a.body.trim() === 'hello from v2')).toBe(true);

    expect((await f.cli(['maintenance', 'hello', 'on', '--message', 'back at noon'])).code).toBe(0);
    const m = await request(`${f.base}/`);
    expect(m.statusCode).toBe(503);
    expect(await m.body.text()).toBe('back at noon');
    expect((await f.cli(['maintenance', 'hello', 'off'])).code).toBe(0);
    expect(await text(`${f.base}/`)).toBe('hello from v2');
  });
});
