import { spawn } from 'node:child_process';
import { formatDuration } from '../core/duration.js';
import type { Action, CheckSpec } from '../spec/hooks.js';

export interface ActionContext {
  service: string;
  revision: number;
  fromRevision: number | null;
  deployment: string;
  /** e.g. `pre-deploy`, or `check` */
  hook: string;
  strategy: string;
}

export interface ActionResult {
  ok: boolean;
  /** What it said, trimmed to the last few KB: shown when it fails. */
  output: string;
  detail: string;
}

const MAX_OUTPUT = 4096;
const tail = (s: string) => (s.length > MAX_OUTPUT ? `…${s.slice(-MAX_OUTPUT)}` : s).trim();

/** Runs a command with the deployment context in `BATON_*` variables and as JSON on stdin. */
function runCommand(
  command: string,
  args: string[],
  timeoutMs: number,
  ctx: ActionContext,
): Promise<ActionResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      // A command with spaces and no args is a shell line, so `./migrate.sh && ./warm.sh` works.
      shell: args.length === 0 && /\s/.test(command),
      env: {
        ...process.env,
        BATON_SERVICE: ctx.service,
        BATON_REVISION: String(ctx.revision),
        BATON_FROM_REVISION: ctx.fromRevision === null ? '' : String(ctx.fromRevision),
        BATON_DEPLOYMENT: ctx.deployment,
        BATON_HOOK: ctx.hook,
        BATON_STRATEGY: ctx.strategy,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    const collect = (c: Buffer) => {
      output = (output + c.toString()).slice(-2 * MAX_OUTPUT);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(ctx));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
      resolve({ ok: false, output: tail(output), detail: `timed out after ${formatDuration(timeoutMs)}` });
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, output: tail(output), detail: err.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        ok: code === 0,
        output: tail(output),
        detail: signal ? `killed by ${signal}` : `exit ${code}`,
      });
    });
  });
}

async function request(
  url: string,
  method: string,
  timeoutMs: number,
  body?: string,
): Promise<{ status: number; text: string } | { error: string }> {
  try {
    const res = await fetch(url, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}),
    });
    return { status: res.status, text: method === 'HEAD' ? '' : await res.text() };
  } catch (err) {
    return {
      error:
        err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err),
    };
  }
}

/** Runs a hook action: a command, or a webhook receiving the context as JSON (2xx is success). */
export async function runAction(action: Action, ctx: ActionContext): Promise<ActionResult> {
  if ('command' in action) return runCommand(action.command, action.args, action.timeout, ctx);
  const r = await request(
    action.url,
    action.method,
    action.timeout,
    action.method === 'GET' ? undefined : JSON.stringify(ctx),
  );
  if ('error' in r) return { ok: false, output: '', detail: `${action.method} ${action.url}: ${r.error}` };
  const ok = r.status >= 200 && r.status < 300;
  return { ok, output: tail(r.text), detail: `${action.method} ${action.url}: HTTP ${r.status}` };
}

/** Runs an external check: a command that must exit 0, or a request with the expected status and body. */
export async function runCheck(check: CheckSpec, ctx: ActionContext): Promise<ActionResult> {
  if ('command' in check) return runCommand(check.command, check.args, check.timeout, ctx);
  const { url, method, status, bodyContains } = check.http;
  const r = await request(url, method, check.timeout);
  if ('error' in r) return { ok: false, output: '', detail: `${method} ${url}: ${r.error}` };
  if (r.status !== status)
    return {
      ok: false,
      output: tail(r.text),
      detail: `${method} ${url}: HTTP ${r.status}, expected ${status}`,
    };
  if (bodyContains !== undefined && !r.text.includes(bodyContains)) {
    return {
      ok: false,
      output: tail(r.text),
      detail: `${method} ${url}: the answer does not contain "${bodyContains}"`,
    };
  }
  return { ok: true, output: '', detail: `${method} ${url}: HTTP ${r.status}` };
}
