import { constants, existsSync } from 'node:fs';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { dataPaths } from '../../api/paths.js';
import { awsChecks } from '../../cloud/aws/checks.js';
import { ociChecks } from '../../cloud/oci/checks.js';
import type { Check } from '../../core/check.js';
import { BatonError } from '../../core/errors.js';
import { loosePaths, ownerProblem } from '../../core/private-state.js';
import { haproxyChecks } from '../../router/haproxy/checks.js';
import { proxyHealth } from '../../router/proxy/client.js';
import { proxyPaths } from '../../router/proxy/paths.js';
import { dockerChecks } from '../../runtime/docker/checks.js';
import { loadSpecFile } from '../../spec/load.js';
import type { DockerServiceSpec } from '../../spec/schema.js';
import { ApiClient } from '../client.js';
import { action, globals, type Io, stdio } from '../context.js';

async function dataDirCheck(dir: string): Promise<Check> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await access(dir, constants.W_OK);
    const probe = join(dir, `.doctor-${process.pid}`);
    await writeFile(probe, 'ok', { mode: 0o600 });
    await rm(probe, { force: true });
  } catch (err) {
    return {
      name: 'data dir',
      status: 'fail',
      detail: `${dir} is not writable: ${(err as Error).message}`,
      fix: 'choose another with --data-dir / BATON_DATA_DIR, or fix its owner and mode',
    };
  }
  const owner = ownerProblem(dir);
  if (owner)
    return {
      name: 'data dir',
      status: 'fail',
      detail: owner,
      fix: `choose another with --data-dir / BATON_DATA_DIR, or: chown -R ${process.geteuid?.()} ${dir}`,
    };
  // The store's WAL holds secret values in clear: nothing in the data dir is for other users.
  const loose = loosePaths(dir);
  if (loose.length)
    return {
      name: 'data dir',
      status: 'fail',
      detail: `readable by other users: ${loose
        .slice(0, 5)
        .map((p) => `${relative(dir, p.path) || '.'} (${p.mode.toString(8).padStart(4, '0')})`)
        .join(', ')}${loose.length > 5 ? ` and ${loose.length - 5} more` : ''}`,
      fix: `chmod -R go-rwx ${dir} (baton serve does it when it starts)`,
    };
  return { name: 'data dir', status: 'ok', detail: `${dir} is writable and owner-only` };
}

async function controlPlaneCheck(cmd: Command): Promise<Check> {
  const api = ApiClient.from(globals(cmd));
  try {
    await api.json('GET', '/v1/status');
    return { name: 'control plane', status: 'ok', detail: `answers at ${api.url} and accepts the token` };
  } catch (err) {
    const e = err as BatonError;
    const unauthorized = e instanceof BatonError && (e.code === 'UNAUTHORIZED' || /token/i.test(e.message));
    return {
      name: 'control plane',
      status: 'fail',
      detail: e.message,
      fix: unauthorized
        ? 'pass the token of that control plane (--token / BATON_TOKEN, or the data dir it uses)'
        : 'start it: baton serve (with the same --data-dir)',
    };
  }
}

async function proxyCheck(dataDir: string): Promise<Check> {
  const h = await proxyHealth(proxyPaths(dataDir).socket, 2000);
  return h
    ? { name: 'embedded proxy', status: 'ok', detail: `running (pid ${h.pid}, ${h.routes} route(s))` }
    : {
        name: 'embedded proxy',
        status: 'fail',
        detail: 'not running',
        fix: 'baton serve starts it (and restarts it when it dies)',
      };
}

/** The services of the spec file that need something of this machine (none when there is no file). */
async function specChecks(file: string, profile: string | undefined): Promise<Check[]> {
  if (!existsSync(file))
    return [{ name: 'spec', status: 'warn', detail: `${file} not found: service checks skipped` }];
  try {
    const loaded = await loadSpecFile(file, profile ? { profile } : {});
    const services = Object.entries(loaded.spec.services);
    const docker = services
      .filter((s): s is [string, DockerServiceSpec] => s[1].runtime === 'docker')
      .map(([name, spec]) => ({ name, spec }));
    const haproxy = services.flatMap(([name, spec]) =>
      spec.traffic.router.kind === 'haproxy' ? [{ name, router: spec.traffic.router }] : [],
    );
    // Cloud credentials are the control plane's, read from its environment: this shell's must match.
    const using = (runtime: string, router: string) =>
      services.filter(([, s]) => s.runtime === runtime || s.traffic.router.kind === router).map(([n]) => n);
    return [
      { name: 'spec', status: 'ok', detail: `${file}: ${services.length} service(s) valid` },
      ...(await dockerChecks(docker)),
      ...(await haproxyChecks(haproxy)),
      ...(await ociChecks(using('oci', 'oci-lb'))),
      ...(await awsChecks(using('ecs', 'alb'))),
    ];
  } catch (err) {
    return [
      {
        name: 'spec',
        status: 'fail',
        detail: err instanceof BatonError ? err.message : String(err),
        fix: `fix ${file} (baton plan shows the same problems)`,
      },
    ];
  }
}

export function registerDoctor(program: Command, io: Io = stdio): void {
  program
    .command('doctor')
    .description('check that this machine has what the services in baton.yaml need, and say what to fix')
    .option('-f, --file <path>', 'spec file', 'baton.yaml')
    .option('--profile <name>', 'profile picked by !profile values')
    .option('--json', 'print as JSON')
    .action(
      action(async (opts: { file: string; profile?: string; json?: boolean }, cmd: Command) => {
        const { root } = dataPaths(globals(cmd).dataDir);
        const checks = [
          await dataDirCheck(root),
          await controlPlaneCheck(cmd),
          await proxyCheck(root),
          ...(await specChecks(opts.file, opts.profile)),
        ];
        const ok = checks.every((c) => c.status !== 'fail');
        if (opts.json) io.out(JSON.stringify({ ok, checks }, null, 2));
        else {
          const mark = { ok: '✓', warn: '!', fail: '✗' } as const;
          for (const c of checks) {
            io.out(`${mark[c.status]} ${c.name}: ${c.detail}`);
            if (c.fix && c.status !== 'ok') io.out(`    fix: ${c.fix}`);
          }
          io.out(ok ? 'all good' : 'some checks failed');
        }
        return ok ? 0 : 1;
      }),
    );
}
