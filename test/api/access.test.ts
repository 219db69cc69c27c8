import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiContext, ROUTES } from '../../src/api/routes.js';
import { createApiServer } from '../../src/api/server.js';
import { TokenBook } from '../../src/api/token-book.js';
import { ServiceControl } from '../../src/engine/control.js';
import { Deployer } from '../../src/engine/deployer.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import { FakeRouter } from '../../src/router/fake/fake-router.js';
import { FakeRuntime } from '../../src/runtime/fake/fake-runtime.js';
import { serviceSchema } from '../../src/spec/schema.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { Repo } from '../../src/store/repo.js';

type Need = 'public' | 'viewer' | 'deployer' | 'admin';
type Scope = 'service' | 'body' | 'deployment' | 'listing' | 'global' | 'none';

/**
 * The expected rule of every API route, written independently of src/api/routes.ts: each row names a
 * request for a service in team A's scope (`a`) and one outside it (`b`). A route without a row here fails
 * the first test, so no route ships without its access rule being checked for every kind of token.
 */
interface Row {
  need: Need;
  scope: Scope;
  request: (svc: 'a' | 'b', ids: Ids) => { method: string; path: string; body?: unknown };
}
interface Ids {
  a: string;
  b: string;
}
// Requests for services in scope name one that does not exist, so an allowed call changes nothing.
const name = (svc: 'a' | 'b') => (svc === 'a' ? 'team-a-ghost' : 'team-b-web');
const get = (tail: string) => (svc: 'a' | 'b') => ({
  method: 'GET',
  path: `/v1/services/${name(svc)}${tail}`,
});
const post =
  (tail: string, body: unknown = {}) =>
  (svc: 'a' | 'b') => ({
    method: 'POST',
    path: `/v1/services/${name(svc)}${tail}`,
    body,
  });

const TABLE: Record<string, Row> = {
  'GET /v1/health': { need: 'public', scope: 'none', request: () => ({ method: 'GET', path: '/v1/health' }) },
  'POST /v1/deploy': {
    need: 'deployer',
    scope: 'body',
    request: (svc) => ({
      method: 'POST',
      path: '/v1/deploy',
      body: { service: name(svc), spec: { bad: 1 } },
    }),
  },
  'GET /v1/status': {
    need: 'viewer',
    scope: 'listing',
    request: () => ({ method: 'GET', path: '/v1/status' }),
  },
  'GET /v1/services/:s': { need: 'viewer', scope: 'service', request: get('') },
  'GET /v1/services/:s/history': { need: 'viewer', scope: 'service', request: get('/history') },
  'GET /v1/services/:s/logs': { need: 'viewer', scope: 'service', request: get('/logs') },
  'GET /v1/deployments/:id': {
    need: 'viewer',
    scope: 'deployment',
    request: (svc, ids) => ({ method: 'GET', path: `/v1/deployments/${ids[svc]}` }),
  },
  'GET /v1/audit': {
    need: 'viewer',
    scope: 'listing',
    request: () => ({ method: 'GET', path: '/v1/audit' }),
  },
  'POST /v1/services/:s/rollback': { need: 'deployer', scope: 'service', request: post('/rollback') },
  'POST /v1/services/:s/stop': { need: 'deployer', scope: 'service', request: post('/stop') },
  'POST /v1/services/:s/promote': { need: 'deployer', scope: 'service', request: post('/promote') },
  'POST /v1/services/:s/abort': { need: 'deployer', scope: 'service', request: post('/abort') },
  'POST /v1/services/:s/pause': { need: 'deployer', scope: 'service', request: post('/pause') },
  'POST /v1/services/:s/resume': { need: 'deployer', scope: 'service', request: post('/resume') },
  'POST /v1/services/:s/mode': { need: 'deployer', scope: 'service', request: post('/mode', { hold: 'x' }) },
  'POST /v1/services/:s/destroy': { need: 'admin', scope: 'service', request: post('/destroy') },
  'POST /v1/services/:s/unlock': { need: 'admin', scope: 'service', request: post('/unlock') },
  'GET /v1/events': {
    need: 'viewer',
    scope: 'listing',
    request: () => ({ method: 'GET', path: '/v1/events' }),
  },
  'GET /v1/services/:s/samples': { need: 'viewer', scope: 'service', request: get('/samples') },
  'GET /metrics': { need: 'viewer', scope: 'global', request: () => ({ method: 'GET', path: '/metrics' }) },
  'GET /v1/tokens': {
    need: 'admin',
    scope: 'global',
    request: () => ({ method: 'GET', path: '/v1/tokens' }),
  },
  'POST /v1/tokens': {
    need: 'admin',
    scope: 'global',
    request: () => ({ method: 'POST', path: '/v1/tokens', body: {} }),
  },
  'GET /v1/certs': {
    need: 'viewer',
    scope: 'global',
    request: () => ({ method: 'GET', path: '/v1/certs' }),
  },
  'DELETE /v1/tokens/:name': {
    need: 'admin',
    scope: 'global',
    request: () => ({ method: 'DELETE', path: '/v1/tokens/nobody' }),
  },
};

/** `^\/v1\/services\/([a-z][a-z0-9-]*)\/history$` → `/v1/services/:s/history`. */
function keyOf(method: string, pattern: RegExp): string {
  const path = pattern.source
    .replace(/^\^|\$$/g, '')
    .replace(/\\\//g, '/')
    .replace(/\/v1\/services\/\([^)]*\)/, '/v1/services/:s')
    .replace(/\/v1\/deployments\/\([^)]*\)/, '/v1/deployments/:id')
    .replace(/\/v1\/tokens\/\([^)]*\)/, '/v1/tokens/:name');
  return `${method} ${path}`;
}

const RANK: Record<Need, number> = { public: -1, viewer: 0, deployer: 1, admin: 2 };
interface Caller {
  label: string;
  token?: string;
  role?: Exclude<Need, 'public'>;
  /** Whether its scope is every service. */
  all?: boolean;
}

const spec = (version: string, port: number) =>
  serviceSchema.parse({
    runtime: 'process',
    command: 'unused',
    env: { VERSION: version },
    replicas: 1,
    probe: { http: { path: '/health' }, interval: '20ms', startTimeout: '2s' },
    traffic: { listen: `127.0.0.1:${port}`, drainTimeout: '1s' },
    strategy: { type: 'replace' },
  });

describe('every API route checks role and scope', () => {
  const LOCAL = 'local-secret-token-for-tests';
  let runtime: FakeRuntime;
  let deps: EngineDeps;
  let server: Server;
  let url: string;
  const ids: Ids = { a: '', b: '' };
  const callers: Caller[] = [];

  beforeAll(async () => {
    runtime = new FakeRuntime({ serveHttp: true });
    const store = new MemoryStore();
    deps = {
      repo: new Repo(store),
      runtime,
      router: new FakeRouter(),
      logger: pino({ level: 'silent' }),
      holder: 'test',
    };
    const deployer = new Deployer(deps);
    const tokens = new TokenBook(store);
    const ctx: ApiContext = {
      deps,
      deployer,
      control: new ServiceControl(deps, deployer),
      version: 'test',
      tokens,
    };
    server = createApiServer(ctx, { localToken: LOCAL, limiter: { max: 1000 } });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const svc of ['team-a-web', 'team-b-web'] as const) {
      const r = await deployer.deploy(
        { service: svc, spec: spec('v1', svc === 'team-a-web' ? 1 : 2), actor: 'setup' },
        () => {},
      );
      expect(r.ok, JSON.stringify(r)).toBe(true);
      ids[svc === 'team-a-web' ? 'a' : 'b'] = r.deployment;
    }
    const make = async (n: string, role: 'viewer' | 'deployer' | 'admin', services?: string[]) =>
      (await tokens.create({ name: n, role, services })).secret;
    callers.push(
      { label: 'no token' },
      { label: 'a wrong token', token: 'baton_team-a-viewer_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      {
        label: 'viewer of team-a-*',
        token: await make('team-a-viewer', 'viewer', ['team-a-*']),
        role: 'viewer',
      },
      {
        label: 'deployer of team-a-*',
        token: await make('team-a-deployer', 'deployer', ['team-a-*']),
        role: 'deployer',
      },
      { label: 'admin of team-a-*', token: await make('team-a-admin', 'admin', ['team-a-*']), role: 'admin' },
      { label: 'viewer of all', token: await make('viewer', 'viewer'), role: 'viewer', all: true },
      { label: 'deployer of all', token: await make('deployer', 'deployer'), role: 'deployer', all: true },
      { label: 'admin of all', token: await make('admin', 'admin'), role: 'admin', all: true },
      { label: 'the local admin', token: LOCAL, role: 'admin', all: true },
    );
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    for (const i of await runtime.list()) await runtime.stop(i.id, 100);
    await runtime.close();
  });

  const call = async (caller: Caller, req: { method: string; path: string; body?: unknown }) => {
    const res = await fetch(`${url}${req.path}`, {
      method: req.method,
      headers: {
        ...(caller.token ? { authorization: `Bearer ${caller.token}` } : {}),
        ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text };
  };

  it('has a row for every route, and a route for every row', () => {
    const keys = ROUTES.map((r) => keyOf(r.method, r.pattern));
    expect(
      keys.filter((k) => !TABLE[k]),
      'routes without a row in TABLE',
    ).toEqual([]);
    expect(
      Object.keys(TABLE).filter((k) => !keys.includes(k)),
      'rows without a route',
    ).toEqual([]);
  });

  it('answers every route as its row says, for every kind of token, in and out of scope', async () => {
    const wrong: string[] = [];
    for (const route of ROUTES) {
      const key = keyOf(route.method, route.pattern);
      const row = TABLE[key]!;
      for (const caller of callers) {
        for (const svc of ['a', 'b'] as const) {
          const r = await call(caller, row.request(svc, ids));
          let want: 'allowed' | 401 | 403;
          if (row.need === 'public') want = 'allowed';
          else if (!caller.role) want = 401;
          else if (RANK[caller.role] < RANK[row.need]) want = 403;
          else if (row.scope === 'global') want = caller.all ? 'allowed' : 403;
          else if (svc === 'b' && !caller.all && row.scope !== 'listing') want = 403;
          else want = 'allowed';
          const ok = want === 'allowed' ? r.status !== 401 && r.status !== 403 : r.status === want;
          if (!ok) wrong.push(`${key} by ${caller.label} on ${svc}: want ${want}, got ${r.status} ${r.text}`);
          if (want === 403 && caller.token) {
            // The refusal names the token, and for a scope refusal the scope.
            const name = caller.token.split('_')[1];
            if (!r.text.includes(`token ${name}`)) wrong.push(`${key} by ${caller.label}: ${r.text}`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('listings show only what the scope covers', async () => {
    const viewer = callers.find((c) => c.label === 'viewer of team-a-*')!;
    const status = JSON.parse((await call(viewer, { method: 'GET', path: '/v1/status' })).text) as {
      services: Array<{ service: string }>;
    };
    expect(status.services.map((s) => s.service)).toEqual(['team-a-web']);
    const audit = JSON.parse((await call(viewer, { method: 'GET', path: '/v1/audit' })).text) as {
      events: Array<{ service?: string }>;
    };
    expect(audit.events.length).toBeGreaterThan(0);
    expect(audit.events.every((e) => e.service === 'team-a-web')).toBe(true);
    const all = callers.find((c) => c.label === 'viewer of all')!;
    const full = JSON.parse((await call(all, { method: 'GET', path: '/v1/status' })).text) as {
      services: Array<{ service: string }>;
    };
    expect(full.services.map((s) => s.service).sort()).toEqual(['team-a-web', 'team-b-web']);
  });

  it('a scope refusal is 403 whether or not the service exists, and says which token and scope', async () => {
    const deployer = callers.find((c) => c.label === 'deployer of team-a-*')!;
    for (const svc of ['team-b-web', 'team-b-nothing']) {
      const r = await call(deployer, { method: 'POST', path: `/v1/services/${svc}/rollback`, body: {} });
      expect(r.status).toBe(403);
      expect(JSON.parse(r.text).error.message).toBe(
        `token team-a-deployer (role deployer) may not POST /v1/services/${svc}/rollback: service ${svc} is outside its scope (services team-a-*)`,
      );
    }
  });

  it('health tells an anonymous caller nothing but that it answers', async () => {
    const r = await call({ label: 'anonymous' }, { method: 'GET', path: '/v1/health' });
    expect(JSON.parse(r.text)).toEqual({ ok: true });
  });
});
