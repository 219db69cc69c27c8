import type { IncomingMessage, ServerResponse } from 'node:http';
import { InputError, NotFoundError, SpecError } from '../core/errors.js';
import { hideValues, secretsOf } from '../core/secrets.js';
import type { EventHub } from '../dashboard/event-hub.js';
import type { Sampler } from '../dashboard/sampler.js';
import type { ServiceControl } from '../engine/control.js';
import type { Deployer } from '../engine/deployer.js';
import type { EngineDeps } from '../engine/deps.js';
import { answerScrape } from '../metrics/metrics-server.js';
import type { Scrape } from '../metrics/scrape.js';
import type { RouteMode } from '../router/router.js';
import { serviceSchema } from '../spec/schema.js';
import { type Principal, type Rule, requireService, sees } from './access.js';
import { CERT_ROUTES } from './cert-routes.js';
import { events } from './event-stream.js';
import { sendJson } from './http.js';
import { stream } from './job-stream.js';
import { refuseListenerClash } from './listener-claims.js';
import { streamLogs } from './logs.js';
import { redactFor, redactRevision, serviceSecrets } from './redact.js';
import { allStatus, serviceStatus } from './status.js';
import type { TokenBook } from './token-book.js';
import { TOKEN_ROUTES } from './token-routes.js';

export interface ApiContext {
  deps: EngineDeps;
  deployer: Deployer;
  control: ServiceControl;
  version: string;
  /** Named tokens (`baton token`); without it only the data dir's token is known. */
  tokens?: TokenBook | undefined;
  /** Live events (`GET /v1/events`) and the dashboard's 15-minute charts. */
  hub?: EventHub | undefined;
  sampler?: Sampler | undefined;
  /** How often an event stream sends a keep-alive and checks its token again (default 15 s). */
  eventsHeartbeatMs?: number | undefined;
  /** Prometheus metrics (`GET /metrics`); without it the route answers 404. */
  metrics?: Scrape | undefined;
}

/** One authenticated request, as a handler sees it (the server read the body and checked the rule). */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
  url: URL;
  /** The JSON body of a POST, `{}` otherwise. */
  body: Record<string, unknown>;
  principal: Principal;
  /** Who to record in the audit log: what the client says it is, and the token it used. */
  actor: string;
  /** Whether the request's token (or session) is still valid: long-lived streams check it again. */
  stillAuthorized?: (() => Promise<boolean>) | undefined;
}

export type Handler = (ctx: ApiContext, call: Call) => Promise<void>;

export interface Route {
  method: string;
  pattern: RegExp;
  rule: Rule;
  handler: Handler;
}

interface DeployBody {
  service?: string;
  spec?: unknown;
  /** Env var names from secrets (older clients). */
  secretEnv?: string[];
  /** Dotted paths, relative to `spec`, of values that came from secrets. */
  secretPaths?: string[];
  actor?: string;
  dryRun?: boolean;
}

/** The client's own word for who it is (`cli:alice`) is kept, but the token's name is what vouches. */
export function actorOf(req: IncomingMessage, body: { actor?: unknown }, principal: Principal): string {
  const said =
    typeof body.actor === 'string' && body.actor
      ? body.actor
      : `api@${req.socket.remoteAddress ?? 'unknown'}`;
  return `${said} [token ${principal.name}]`;
}

function parseServiceSpec(body: DeployBody) {
  if (typeof body.service !== 'string' || !body.service) throw new InputError('body.service is required');
  const parsed = serviceSchema.safeParse(body.spec);
  if (!parsed.success) {
    // The CLI validates files with positions before calling; this guards other API clients.
    throw new SpecError(
      parsed.error.issues.map((i) => ({
        file: '<api>',
        line: 0,
        column: 0,
        path: ['spec', ...i.path].join('.'),
        message: i.message,
      })),
    );
  }
  return { service: body.service, spec: parsed.data };
}

const deploy: Handler = async (ctx, { res, body: raw, actor }) => {
  const body = raw as DeployBody;
  const { service, spec } = parseServiceSpec(body);
  const strings = (x: unknown) => (Array.isArray(x) ? x.filter((s) => typeof s === 'string') : []);
  const secrets = { secretEnv: strings(body.secretEnv), secretPaths: strings(body.secretPaths) };
  await refuseListenerClash(ctx.deps.repo, service, spec);
  if (body.dryRun) {
    // The plan, and for cloud drivers every API call it would make (reads real, writes recorded).
    sendJson(res, 200, await ctx.deployer.preview(service, spec, secrets));
    return;
  }
  await stream(res, (emit) => ctx.deployer.deploy({ service, spec, ...secrets, actor }, emit));
};

const rollback: Handler = async (ctx, { res, params: [name], body, actor }) => {
  if (body.to !== undefined && (!Number.isInteger(body.to) || (body.to as number) < 1))
    throw new InputError('"to" must be a revision number');
  const to = body.to as number | undefined;
  await stream(res, (emit) =>
    ctx.deployer.rollback({ service: name!, actor, ...(to !== undefined ? { to } : {}) }, emit),
  );
};

const status: Handler = async (ctx, { res, principal }) =>
  sendJson(res, 200, {
    services: await allStatus(
      ctx.deps,
      (n) => ctx.deployer.activity(n),
      (n) => sees(principal, n),
    ),
    // Certificates name hosts of any service: shown to tokens that see every service (as GET /v1/certs).
    ...(ctx.deps.certs && principal.services.includes('*') ? { certificates: ctx.deps.certs.list() } : {}),
  });

const oneStatus: Handler = async (ctx, { res, params: [name] }) => {
  const s = await serviceStatus(ctx.deps, name!, (n) => ctx.deployer.activity(n));
  if (!s) throw new NotFoundError(`service ${name}`);
  sendJson(res, 200, s);
};

const history: Handler = async (ctx, { res, params: [name], url }) => {
  const limit = Number(url.searchParams.get('limit') ?? 20);
  const record = await ctx.deps.repo.getService(name!);
  if (!record) throw new NotFoundError(`service ${name}`);
  const [revisions, deployments] = await Promise.all([
    ctx.deps.repo.listRevisions(name!),
    ctx.deps.repo.listDeployments(name!, { limit }),
  ]);
  // A stored plan holds check specs (headers) and errors quote messages: hidden by value too.
  const secrets = [...new Set(revisions.flatMap(secretsOf))];
  sendJson(res, 200, {
    service: name,
    current: record.current,
    revisions: revisions.map(redactRevision),
    deployments: hideValues(deployments, secrets),
  });
};

const journal: Handler = async (ctx, { res, params: [id], principal }) => {
  const d = await ctx.deps.repo.getDeployment(id!);
  if (!d) throw new NotFoundError(`deployment ${id}`);
  requireService(principal, d.service, `read deployment ${id}`);
  const journal = await ctx.deps.repo.readJournal(id!);
  sendJson(res, 200, await redactFor(ctx.deps.repo, d.service, { deployment: d, journal }));
};

const stop: Handler = async (ctx, { res, params: [name], actor }) =>
  sendJson(res, 200, await ctx.control.stop(name!, actor));

/** Drain, delete backends and instances, remove the route; the service is marked destroyed. */
const destroy: Handler = async (ctx, { res, params: [name], actor }) =>
  sendJson(res, 200, await ctx.control.destroy(name!, actor));

const logs: Handler = async (ctx, { req, res, params: [name], url }) => {
  const follow = url.searchParams.get('follow') === '1';
  const tail = url.searchParams.has('tail') ? Number(url.searchParams.get('tail')) : 100;
  const abort = new AbortController();
  req.on('close', () => abort.abort());
  res.on('close', () => abort.abort());
  await streamLogs(ctx.deps, name!, { follow, tail, signal: abort.signal }, res);
};

const audit: Handler = async (ctx, { res, url, principal }) => {
  const service = url.searchParams.get('service') ?? undefined;
  if (service) requireService(principal, service, 'read the audit');
  const limit = Number(url.searchParams.get('limit') ?? 50);
  // Scoped tokens see their services' events only (token management has none: every-service tokens).
  const all = principal.services.includes('*');
  const events = (await ctx.deps.repo.listAudit(service ? { service } : {}))
    .filter((e) => all || (e.service !== undefined && sees(principal, e.service)))
    .slice(0, limit);
  const services = [...new Set(events.flatMap((e) => (e.service ? [e.service] : [])))];
  const secrets = (await Promise.all(services.map((s) => serviceSecrets(ctx.deps.repo, s)))).flat();
  sendJson(res, 200, { events: hideValues(events, secrets) });
};

type Control = 'promote' | 'abort' | 'pause' | 'resume';

const control =
  (what: Control): Handler =>
  async (ctx, { res, params: [name], body, actor }) => {
    const reason = typeof body.reason === 'string' ? body.reason : undefined;
    const r =
      what === 'abort'
        ? ctx.deployer.abort(name!, reason ?? `aborted by ${actor}`)
        : ctx.deployer[what](name!);
    await ctx.deps.repo.audit({
      actor,
      action: what,
      service: name!,
      deployment: r.deployment,
      result: 'ok',
    });
    sendJson(res, 200, { ok: true, service: name, ...r });
  };

const unlock: Handler = async (ctx, { res, params: [name], actor }) => {
  const held = await ctx.deps.repo.getLock(name!);
  if (!held) throw new InputError(`service ${name} is not locked`);
  if (ctx.deployer.isBusy(name!)) {
    throw new InputError(
      `a deployment of ${name} is running in this control plane (${held.deployment}); abort it instead`,
    );
  }
  await ctx.deps.repo.releaseLock(name!);
  await ctx.deps.repo.audit({
    actor,
    action: 'unlock',
    service: name!,
    result: 'ok',
    message: `held by ${held.holder}`,
  });
  sendJson(res, 200, { ok: true, service: name, released: held });
};

// The proxy holds a request at most 5 minutes (node gives up on a request body after 300 s).
const MAX_HOLD_MS = 300_000;

const mode: Handler = async (ctx, { res, params: [name], body: raw, actor }) => {
  const body = raw as { maintenance?: boolean; message?: string; hold?: boolean; maxMs?: number };
  if (!(await ctx.deps.router.status(name!))) throw new NotFoundError(`route of service ${name}`);
  let next: RouteMode;
  if (body.maintenance === true)
    next = { kind: 'maintenance', ...(body.message ? { body: body.message } : {}) };
  else if (body.hold === true) {
    const maxMs = body.maxMs ?? 30_000;
    if (!Number.isInteger(maxMs) || maxMs < 1 || maxMs > MAX_HOLD_MS)
      throw new InputError(`maxMs must be between 1 and ${MAX_HOLD_MS}`);
    next = { kind: 'hold', maxMs };
  } else next = { kind: 'serve' };
  await ctx.deps.router.setMode(name!, next);
  await ctx.deps.repo.audit({
    actor,
    action: `traffic:${next.kind}`,
    service: name!,
    result: 'ok',
  });
  sendJson(res, 200, { ok: true, service: name, mode: next });
};

/** The service's chart points over the last 15 minutes (the sampler's ring), oldest first. */
const samples: Handler = async (ctx, { res, params: [name] }) =>
  sendJson(res, 200, {
    service: name,
    intervalMs: ctx.sampler?.intervalMs ?? null,
    points: ctx.sampler?.series(name!) ?? [],
  });
/** Prometheus exposition text (src/metrics/); docs/metrics.md lists every metric. */
const metrics: Handler = async (ctx, { res }) => {
  if (!ctx.metrics) throw new NotFoundError('metrics in this control plane');
  await answerScrape(ctx.metrics, res, ctx.deps.logger);
};

/** Anonymous callers learn only that it answers: no pid, no version (nothing to fingerprint). */
const health: Handler = async (_ctx, { res }) => sendJson(res, 200, { ok: true });

const SERVICE = '([a-z][a-z0-9-]*)';
const svc = (tail = '') => new RegExp(`^/v1/services/${SERVICE}${tail}$`);
const read = { role: 'viewer', scope: 'service' } as const;
const act = { role: 'deployer', scope: 'service' } as const;
const admin = { role: 'admin', scope: 'service' } as const;

/**
 * Every route with its access rule (src/api/access.ts). test/api/access.test.ts holds the expected
 * answer of every route for every kind of token and fails when a route here has no row there.
 */
export const ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/v1\/health$/, rule: { public: true }, handler: health },
  { method: 'POST', pattern: /^\/v1\/deploy$/, rule: { role: 'deployer', scope: 'body' }, handler: deploy },
  { method: 'GET', pattern: /^\/v1\/status$/, rule: { role: 'viewer', scope: 'listing' }, handler: status },
  { method: 'GET', pattern: svc(), rule: read, handler: oneStatus },
  { method: 'GET', pattern: svc('/history'), rule: read, handler: history },
  { method: 'GET', pattern: svc('/logs'), rule: read, handler: logs },
  {
    method: 'GET',
    pattern: /^\/v1\/deployments\/([a-f0-9]+)$/,
    rule: { role: 'viewer', scope: 'deployment' },
    handler: journal,
  },
  { method: 'GET', pattern: /^\/v1\/audit$/, rule: { role: 'viewer', scope: 'listing' }, handler: audit },
  { method: 'POST', pattern: svc('/rollback'), rule: act, handler: rollback },
  { method: 'POST', pattern: svc('/stop'), rule: act, handler: stop },
  { method: 'POST', pattern: svc('/promote'), rule: act, handler: control('promote') },
  { method: 'POST', pattern: svc('/abort'), rule: act, handler: control('abort') },
  { method: 'POST', pattern: svc('/pause'), rule: act, handler: control('pause') },
  { method: 'POST', pattern: svc('/resume'), rule: act, handler: control('resume') },
  { method: 'POST', pattern: svc('/mode'), rule: act, handler: mode },
  { method: 'POST', pattern: svc('/destroy'), rule: admin, handler: destroy },
  { method: 'POST', pattern: svc('/unlock'), rule: admin, handler: unlock },
  { method: 'GET', pattern: /^\/v1\/events$/, rule: { role: 'viewer', scope: 'listing' }, handler: events },
  { method: 'GET', pattern: svc('/samples'), rule: read, handler: samples },
  ...TOKEN_ROUTES,
  // Every service's figures in one answer: a token scoped to every service.
  { method: 'GET', pattern: /^\/metrics$/, rule: { role: 'viewer', scope: 'global' }, handler: metrics },
  ...CERT_ROUTES,
];
