import type { IncomingMessage, ServerResponse } from 'node:http';
import { BatonError, InputError, NotFoundError, SpecError } from '../core/errors.js';
import { hideValues, secretsOf } from '../core/secrets.js';
import type { ServiceControl } from '../engine/control.js';
import type { Deployer } from '../engine/deployer.js';
import type { EngineDeps } from '../engine/deps.js';
import type { RouteMode } from '../router/router.js';
import { serviceSchema } from '../spec/schema.js';
import { ndjson, readJson, sendJson } from './http.js';
import { streamLogs } from './logs.js';
import { redactFor, redactRevision, serviceSecrets } from './redact.js';
import { allStatus, serviceStatus } from './status.js';

export interface ApiContext {
  deps: EngineDeps;
  deployer: Deployer;
  control: ServiceControl;
  version: string;
}

type Handler = (
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: string[],
  url: URL,
) => Promise<void>;

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

const actorOf = (req: IncomingMessage, body: { actor?: string }) =>
  typeof body.actor === 'string' && body.actor ? body.actor : `api@${req.socket.remoteAddress ?? 'unknown'}`;

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

/** Runs a deploy-like job, streaming its events; errors after the first event become the result line. */
async function stream(
  res: ServerResponse,
  job: (emit: (e: unknown) => void) => Promise<unknown>,
): Promise<void> {
  const out = ndjson(res);
  try {
    await job(out.write);
  } catch (err) {
    if (!out.started) throw err;
    out.write({
      type: 'result',
      ok: false,
      message: err instanceof Error ? err.message : String(err),
      error: errorJson(err),
    });
  }
  res.end();
}

function errorJson(err: unknown): Record<string, unknown> {
  return err instanceof BatonError
    ? err.toJSON()
    : { code: 'DRIVER', message: err instanceof Error ? err.message : String(err) };
}

const deploy: Handler = async (ctx, req, res) => {
  const body = await readJson<DeployBody>(req);
  const { service, spec } = parseServiceSpec(body);
  const strings = (x: unknown) => (Array.isArray(x) ? x.filter((s) => typeof s === 'string') : []);
  const secrets = { secretEnv: strings(body.secretEnv), secretPaths: strings(body.secretPaths) };
  if (body.dryRun) {
    // The plan, and for cloud drivers every API call it would make (reads real, writes recorded).
    sendJson(res, 200, await ctx.deployer.preview(service, spec, secrets));
    return;
  }
  await stream(res, (emit) =>
    ctx.deployer.deploy({ service, spec, ...secrets, actor: actorOf(req, body) }, emit),
  );
};

const rollback: Handler = async (ctx, req, res, [name]) => {
  const body = await readJson<{ to?: number; actor?: string }>(req);
  if (body.to !== undefined && (!Number.isInteger(body.to) || body.to < 1))
    throw new InputError('"to" must be a revision number');
  const to = body.to;
  await stream(res, (emit) =>
    ctx.deployer.rollback(
      { service: name!, actor: actorOf(req, body), ...(to !== undefined ? { to } : {}) },
      emit,
    ),
  );
};

const status: Handler = async (ctx, _req, res) =>
  sendJson(res, 200, { services: await allStatus(ctx.deps, (n) => ctx.deployer.activity(n)) });

const oneStatus: Handler = async (ctx, _req, res, [name]) => {
  const s = await serviceStatus(ctx.deps, name!, (n) => ctx.deployer.activity(n));
  if (!s) throw new NotFoundError(`service ${name}`);
  sendJson(res, 200, s);
};

const history: Handler = async (ctx, _req, res, [name], url) => {
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

const journal: Handler = async (ctx, _req, res, [id]) => {
  const d = await ctx.deps.repo.getDeployment(id!);
  if (!d) throw new NotFoundError(`deployment ${id}`);
  const journal = await ctx.deps.repo.readJournal(id!);
  sendJson(res, 200, await redactFor(ctx.deps.repo, d.service, { deployment: d, journal }));
};

const stop: Handler = async (ctx, req, res, [name]) => {
  const body = await readJson<{ actor?: string }>(req);
  sendJson(res, 200, await ctx.control.stop(name!, actorOf(req, body)));
};

/** Drain, delete backends and instances, remove the route; the service is marked destroyed. */
const destroy: Handler = async (ctx, req, res, [name]) => {
  const body = await readJson<{ actor?: string }>(req);
  sendJson(res, 200, await ctx.control.destroy(name!, actorOf(req, body)));
};

const logs: Handler = async (ctx, req, res, [name], url) => {
  const follow = url.searchParams.get('follow') === '1';
  const tail = url.searchParams.has('tail') ? Number(url.searchParams.get('tail')) : 100;
  const abort = new AbortController();
  req.on('close', () => abort.abort());
  res.on('close', () => abort.abort());
  await streamLogs(ctx.deps, name!, { follow, tail, signal: abort.signal }, res);
};

const audit: Handler = async (ctx, _req, res, _p, url) => {
  const service = url.searchParams.get('service') ?? undefined;
  const limit = Number(url.searchParams.get('limit') ?? 50);
  const events = await ctx.deps.repo.listAudit({ ...(service ? { service } : {}), limit });
  const services = [...new Set(events.flatMap((e) => (e.service ? [e.service] : [])))];
  const secrets = (await Promise.all(services.map((s) => serviceSecrets(ctx.deps.repo, s)))).flat();
  sendJson(res, 200, { events: hideValues(events, secrets) });
};

type Control = 'promote' | 'abort' | 'pause' | 'resume';

const control =
  (what: Control): Handler =>
  async (ctx, req, res, [name]) => {
    const body = await readJson<{ actor?: string; reason?: string }>(req);
    const actor = actorOf(req, body);
    const r =
      what === 'abort'
        ? ctx.deployer.abort(name!, body.reason ?? `aborted by ${actor}`)
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

const unlock: Handler = async (ctx, req, res, [name]) => {
  const body = await readJson<{ actor?: string }>(req);
  const held = await ctx.deps.repo.getLock(name!);
  if (!held) throw new InputError(`service ${name} is not locked`);
  if (ctx.deployer.isBusy(name!)) {
    throw new InputError(
      `a deployment of ${name} is running in this control plane (${held.deployment}); abort it instead`,
    );
  }
  await ctx.deps.repo.releaseLock(name!);
  await ctx.deps.repo.audit({
    actor: actorOf(req, body),
    action: 'unlock',
    service: name!,
    result: 'ok',
    message: `held by ${held.holder}`,
  });
  sendJson(res, 200, { ok: true, service: name, released: held });
};

// The proxy holds a request at most 5 minutes (node gives up on a request body after 300 s).
const MAX_HOLD_MS = 300_000;

const mode: Handler = async (ctx, req, res, [name]) => {
  const body = await readJson<{
    maintenance?: boolean;
    message?: string;
    hold?: boolean;
    maxMs?: number;
    actor?: string;
  }>(req);
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
    actor: actorOf(req, body),
    action: `traffic:${next.kind}`,
    service: name!,
    result: 'ok',
  });
  sendJson(res, 200, { ok: true, service: name, mode: next });
};

const health: Handler = async (ctx, _req, res) =>
  sendJson(res, 200, { ok: true, pid: process.pid, version: ctx.version });

export const ROUTES: Array<[method: string, pattern: RegExp, handler: Handler]> = [
  ['GET', /^\/v1\/health$/, health],
  ['POST', /^\/v1\/deploy$/, deploy],
  ['GET', /^\/v1\/status$/, status],
  ['GET', /^\/v1\/services\/([a-z][a-z0-9-]*)$/, oneStatus],
  ['GET', /^\/v1\/services\/([a-z][a-z0-9-]*)\/history$/, history],
  ['POST', /^\/v1\/services\/([a-z][a-z0-9-]*)\/rollback$/, rollback],
  ['POST', /^\/v1\/services\/([a-z][a-z0-9-]*)\/stop$/, stop],
  ['POST', /^\/v1\/services\/([a-z][a-z0-9-]*)\/destroy$/, destroy],
  ['GET', /^\/v1\/services\/([a-z][a-z0-9-]*)\/logs$/, logs],
  ['GET', /^\/v1\/deployments\/([a-f0-9]+)$/, journal],
  ['POST', /^\/v1\/services\/([a-z][a-z0-9-]*)\/promote$/, control('promote')],
  ['POST', /^\/v1\/services\/([a-z][a-z0-9-]*)\/abort$/, control('abort')],
  ['POST', /^\/v1\/services\/([a-z][a-z0-9-]*)\/pause$/, control('pause')],
  ['POST', /^\/v1\/services\/([a-z][a-z0-9-]*)\/resume$/, control('resume')],
  ['POST', /^\/v1\/services\/([a-z][a-z0-9-]*)\/unlock$/, unlock],
  ['POST', /^\/v1\/services\/([a-z][a-z0-9-]*)\/mode$/, mode],
  ['GET', /^\/v1\/audit$/, audit],
];
