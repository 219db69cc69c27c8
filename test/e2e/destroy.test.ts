import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HelloFixture, helloFixture } from '../helpers/baton.js';
import { startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';

/** `baton destroy` with the process runtime and the embedded proxy, through the CLI and the daemon. */
describe('baton destroy', () => {
  let f: HelloFixture;

  beforeAll(async () => {
    f = await helloFixture({ version: 'v1' });
  });

  afterAll(async () => {
    await f?.close();
  });

  it('without --yes: bad input, nothing changes', async () => {
    const r = await f.cli(['destroy', 'hello']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/run again with --yes/);
    expect((await f.status()).instances.length).toBeGreaterThan(0);
  });

  it('drains (requests in flight finish), removes instances and the listener, keeps history, audits; deploy brings it back', async () => {
    const before = await f.status();
    const pids = before.instances.map((i) => i.pid);
    const load = startLoad(f.base, { rps: 100 });
    await waitFor(() => load.report.ok >= 20, { timeoutMs: 10_000, message: 'load flowing before destroy' });
    // A request in flight when destroy starts must finish (the drain), whatever happens to new ones.
    // With `head` the app sends the response head at once: once fetch resolves, the request is known
    // to be in flight through the proxy (no polling race against a 1.5 s window).
    const res = await fetch(`${f.base}/slow?ms=1500&head`);
    const slow = res.text().then((body) => ({ status: res.status, body: body.trim() }));
    const r = await f.cli(['destroy', 'hello', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; removed: string[] };
    expect(out.removed.sort()).toEqual(before.instances.map((i) => i.id).sort());
    const report = await load.stop();
    expect(report.ok).toBeGreaterThan(0);
    expect(await slow).toEqual({ status: 200, body: 'slow 1500ms from v1' });
    // Once drained, new requests get the proxy's 503, then (listener closed) a refused connection, or a
    // reset of a kept-alive connection as the listener goes away — never an answer from a stopped instance.
    for (const e of report.errors)
      expect(e).toMatch(/HTTP 503: baton: no healthy backend|ECONNREFUSED|ECONNRESET|other side closed/);
    const s = await f.status();
    expect(s.instances).toEqual([]);
    expect((s as { stopped?: boolean }).stopped).toBe(true);
    // Said as such, not as an empty stopped service: when, and how to bring it back.
    const destroyedAt = (s as { destroyed?: string | null }).destroyed;
    expect(Date.parse(destroyedAt ?? '')).not.toBeNaN();
    const text = await f.cli(['status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(
      `hello  destroyed at ${destroyedAt}, last revision 1  (history kept; baton deploy brings it back)`,
    );
    for (const pid of pids) expect(() => process.kill(pid!, 0)).toThrow();
    await expect(fetch(`${f.base}/`)).rejects.toThrow();
    expect((await f.history()).revisions.length).toBeGreaterThanOrEqual(1);
    const audit = JSON.parse((await f.cli(['audit', 'hello', '--json'])).stdout) as {
      events: Array<{ action: string; result: string }>;
    };
    expect(audit.events.map((e) => `${e.action}:${e.result}`)).toContain('destroy:ok');
    expect((await f.deploy({ version: 'v1' })).code).toBe(0);
    expect((await (await fetch(`${f.base}/`)).text()).trim()).toBe('hello from v1');
    expect(await f.status()).toMatchObject({ destroyed: null, stopped: false });
  });
});
