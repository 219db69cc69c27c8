import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiContext } from '../../src/api/routes.js';
import { createApiServer } from '../../src/api/server.js';
import { TokenBook } from '../../src/api/token-book.js';
import { EventHub } from '../../src/dashboard/event-hub.js';
import { ServiceControl } from '../../src/engine/control.js';
import { Deployer } from '../../src/engine/deployer.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import { FakeRouter } from '../../src/router/fake/fake-router.js';
import { FakeRuntime } from '../../src/runtime/fake/fake-runtime.js';
import { serviceSchema } from '../../src/spec/schema.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { Repo } from '../../src/store/repo.js';
import { makePki } from '../helpers/tls.js';

const spec = (port: number) =>
  serviceSchema.parse({
    runtime: 'process',
    command: 'unused',
    replicas: 1,
    probe: { http: { path: '/health' }, interval: '20ms', startTimeout: '2s' },
    traffic: { listen: `127.0.0.1:${port}`, drainTimeout: '1s' },
    strategy: { type: 'replace' },
  });

/**
 * The dashboard's sign-in, session cookie, CSRF check and event stream, over a real HTTP server
 * with fake drivers (the browser test in test/e2e/dashboard.test.ts drives the whole thing).
 */
describe('dashboard sessions', () => {
  const LOCAL = 'local-secret-token-for-tests';
  let server: Server;
  let ctx: ApiContext;
  let url: string;
  let clock = Date.now();
  const hub = new EventHub();
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    const store = new MemoryStore();
    const deps: EngineDeps = {
      repo: new Repo(store),
      runtime: new FakeRuntime({ serveHttp: true }),
      router: new FakeRouter(),
      logger: pino({ level: 'silent' }),
      holder: 'test',
      observers: [hub.observer()],
    };
    const deployer = new Deployer(deps);
    const tokens = new TokenBook(store);
    ctx = {
      deps,
      deployer,
      control: new ServiceControl(deps, deployer),
      version: 'test',
      tokens,
      hub,
      eventsHeartbeatMs: 100,
    };
    server = createApiServer(ctx, {
      localToken: LOCAL,
      limiter: { max: 1000 },
      sessions: { ttlMs: 60_000, now: () => clock },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const [svc, port] of [
      ['team-a-web', 1],
      ['team-b-web', 2],
    ] as const) {
      const r = await deployer.deploy({ service: svc, spec: spec(port), actor: 'setup' }, () => {});
      expect(r.ok).toBe(true);
    }
    secrets.viewerA = (
      await tokens.create({ name: 'viewer-a', role: 'viewer', services: ['team-a-*'] })
    ).secret;
    secrets.deployer = (await tokens.create({ name: 'deployer', role: 'deployer' })).secret;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const signIn = async (token: string) => {
    const res = await fetch(`${url}/ui/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    const body = (await res.json()) as { csrf?: string; error?: { message: string } };
    const cookie = res.headers.get('set-cookie') ?? '';
    return { status: res.status, body, cookie, session: cookie.split(';')[0] ?? '' };
  };

  it('signs in with a token: an HttpOnly, SameSite=Strict cookie and a CSRF token', async () => {
    const s = await signIn(secrets.deployer!);
    expect(s.status).toBe(200);
    expect(s.cookie).toMatch(
      /^baton_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=60$/,
    );
    expect(s.body.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const me = await fetch(`${url}/ui/session`, { headers: { cookie: s.session } });
    expect(await me.json()).toMatchObject({
      csrf: s.body.csrf,
      token: { name: 'deployer', role: 'deployer' },
    });
    // The cookie alone reads the API; the token never travels again.
    const status = await fetch(`${url}/v1/status`, { headers: { cookie: s.session } });
    expect(status.status).toBe(200);
  });

  it('marks the cookie Secure when the API speaks TLS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-ui-tls-'));
    const pki = makePki(dir);
    const tls = createApiServer(ctx, {
      localToken: LOCAL,
      tls: { cert: readFileSync(pki.cert), key: readFileSync(pki.key) },
    });
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    try {
      const res = await undiciFetch(`https://127.0.0.1:${(tls.address() as AddressInfo).port}/ui/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: LOCAL }),
        dispatcher: new Agent({ connect: { ca: readFileSync(pki.ca) } }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('set-cookie')).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    } finally {
      tls.closeAllConnections();
      await new Promise((r) => tls.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('signs in only from a JSON body (a cross-site form cannot)', async () => {
    const res = await fetch(`${url}/ui/session`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ token: LOCAL }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('refuses a wrong token with a clear message, and sets no cookie', async () => {
    const s = await signIn('baton_deployer_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(s.status).toBe(401);
    expect(s.cookie).toBe('');
    expect(s.body.error?.message).toBe('wrong bearer token (unknown, revoked, or mistyped)');
  });

  it('refuses an action without the CSRF header, or with a wrong one; allows it with the right one', async () => {
    const s = await signIn(secrets.deployer!);
    const promote = (headers: Record<string, string>) =>
      fetch(`${url}/v1/services/team-a-web/promote`, {
        method: 'POST',
        headers: { cookie: s.session, 'content-type': 'application/json', ...headers },
        body: '{}',
      });
    const none = await promote({});
    expect(none.status).toBe(403);
    expect(((await none.json()) as { error: { message: string } }).error.message).toMatch(
      /x-baton-csrf.*CSRF/,
    );
    const csrf = s.body.csrf!;
    // One character changed (to one it is not: a random token may already end in 'A').
    const wrong = `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}`;
    expect((await promote({ 'x-baton-csrf': wrong })).status).toBe(403);
    // Authorized: the engine answers that nothing is running (400), not the access check.
    const ok = await promote({ 'x-baton-csrf': s.body.csrf! });
    expect(ok.status).toBe(400);
    expect(await ok.text()).toContain('no deployment of team-a-web is running');
  });

  it("limits a session to its token's role and scope", async () => {
    const s = await signIn(secrets.viewerA!);
    const status = (await (await fetch(`${url}/v1/status`, { headers: { cookie: s.session } })).json()) as {
      services: Array<{ service: string }>;
    };
    expect(status.services.map((x) => x.service)).toEqual(['team-a-web']);
    const other = await fetch(`${url}/v1/services/team-b-web`, { headers: { cookie: s.session } });
    expect(other.status).toBe(403);
    const act = await fetch(`${url}/v1/services/team-a-web/pause`, {
      method: 'POST',
      headers: { cookie: s.session, 'x-baton-csrf': s.body.csrf! },
    });
    expect(act.status).toBe(403);
    expect(await act.text()).toContain('needs role deployer');
  });

  it('ends the sessions of a revoked token at their next request', async () => {
    const { secret } = await ctx.tokens!.create({ name: 'short-lived', role: 'viewer' });
    const s = await signIn(secret);
    expect((await fetch(`${url}/v1/status`, { headers: { cookie: s.session } })).status).toBe(200);
    await ctx.tokens!.revoke('short-lived');
    const after = await fetch(`${url}/v1/status`, { headers: { cookie: s.session } });
    expect(after.status).toBe(401);
    expect(await after.text()).toContain('wrong bearer token');
  });

  it("ends an open event stream once its session's token is revoked", async () => {
    const { secret } = await ctx.tokens!.create({ name: 'watcher', role: 'viewer' });
    const s = await signIn(secret);
    const res = await fetch(`${url}/v1/events`, { headers: { cookie: s.session } });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    // Two keep-alives: the stream lives on while the token is good.
    while ((text.match(/: keep-alive/g) ?? []).length < 2)
      text += decoder.decode((await reader.read()).value);
    await ctx.tokens!.revoke('watcher');
    for (;;) if ((await reader.read()).done) break;
    expect((await fetch(`${url}/v1/events`, { headers: { cookie: s.session } })).status).toBe(401);
  });

  it('expires a session, and signing out ends it', async () => {
    const s = await signIn(secrets.deployer!);
    clock += 61_000;
    const late = await fetch(`${url}/v1/status`, { headers: { cookie: s.session } });
    expect(late.status).toBe(401);
    expect(await late.text()).toContain('session has expired');
    const t = await signIn(secrets.deployer!);
    await fetch(`${url}/ui/session`, { method: 'DELETE', headers: { cookie: t.session } });
    expect((await fetch(`${url}/v1/status`, { headers: { cookie: t.session } })).status).toBe(401);
  });

  it('serves the page with a Content-Security-Policy that forbids inline scripts and other origins', async () => {
    const res = await fetch(`${url}/ui/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/https?:\/\//);
    for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      const a = await fetch(new URL(m[1]!, `${url}/ui/`));
      expect(a.status, m[1]).toBe(200);
    }
    expect((await fetch(`${url}/ui/assets/vendor/uplot.js`)).status).toBe(200);
    expect((await fetch(`${url}/ui/assets/../../package.json`)).status).toBe(404);
  });

  it('streams the events of the services in scope only', async () => {
    const s = await signIn(secrets.viewerA!);
    const abort = new AbortController();
    const res = await fetch(`${url}/v1/events`, { headers: { cookie: s.session }, signal: abort.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('event: ready')) text += decoder.decode((await reader.read()).value);
    const warning = (service: string) =>
      hub.publish({
        kind: 'deploy',
        service,
        deployment: 'd1',
        event: { type: 'warning', message: service },
      });
    warning('team-b-web');
    warning('team-a-web');
    while (!text.includes('team-a-web"}')) text += decoder.decode((await reader.read()).value);
    abort.abort();
    expect(text).toContain('event: deploy');
    expect(text).not.toContain('team-b-web');
  });
});
