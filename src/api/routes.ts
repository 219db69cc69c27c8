import type { IncomingMessage, ServerResponse } from 'node:http';
import { BatonError, InputError, NotFoundError, SpecError } from '../core/errors.js';
import type { ServiceControl } from '../engine/control.js';
import type { Deployer } from '../engine/deployer.js';
import type { EngineDeps } from '../engine/deps.js';
import { serviceSchema } from '../spec/schema.js';
import { ndjson, readJson, sendJson } from './http.js';
import { streamLogs } from './logs.js';
import { redactRevision } from './redact.js';
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
  secretEnv?: string[];
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
  if (body.dryRun) {
    sendJson(res, 200, await ctx.deployer.preview(service, spec));
    return;
  }
  const secretEnv = Array.isArray(body.secretEnv) ? body.secretEnv.filter((s) => typeof s === 'string') : [];
  await stream(res, (emit) =>
    ctx.deployer.deploy({ service, spec, secretEnv, actor: actorOf(req, body) }, emit),
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

const status: Handler = async (ctx, _req, res) => sendJson(res, 200, { services: await allStatus(ctx.deps) });

const oneStatus: Handler = async (ctx, _req, res, [name]) => {
  const s = await serviceStatus(ctx.deps, name!);
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
  sendJson(res, 200, {
    service: name,
    current: record.current,
    revisions: revisions.map(redactRevision),
    deployments,
  });
};

const journal: Handler = async (ctx, _req, res, [id]) => {
  const d = await ctx.deps.repo.getDeployment(id!);
  if (!d) throw new NotFoundError(`deployment ${id}`);
  sendJson(res, 200, { deployment: d, journal: await ctx.deps.repo.readJournal(id!) });
};

const stop: Handler = async (ctx, req, res, [name]) => {
  const body = await readJson<{ actor?: string }>(req);
  sendJson(res, 200, await ctx.control.stop(name!, actorOf(req, body)));
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
  sendJson(res, 200, { events: await ctx.deps.repo.listAudit({ ...(service ? { service } : {}), limit }) });
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
  ['GET', /^\/v1\/services\/([a-z][a-z0-9-]*)\/logs$/, logs],
  ['GET', /^\/v1\/deployments\/([a-f0-9]+)$/, journal],
  ['GET', /^\/v1\/audit$/, audit],
];
