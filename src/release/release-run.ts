import { spawn } from 'node:child_process';
import { userInfo } from 'node:os';
import type { ApiClient } from '../cli/client.js';
import { BatonError, InputError } from '../core/errors.js';
import { runCheck } from '../engine/actions.js';
import type { DeployEvent } from '../engine/events.js';
import { connectDocker, dockerEndpoint } from '../runtime/docker/client.js';
import type { BatonFile } from '../spec/schema.js';
import { buildImage, pushImage } from './image-build.js';
import { describeStage as describeLine, type ReleasePlan, type Stage } from './release-plan.js';

/** What the runner needs from the outside world: the spec per environment, a client per environment. */
export interface ReleaseDeps {
  /** baton.yaml loaded with `environment`'s overrides (none: as written) and the services' tags set to `tag`. */
  specFor(environment: string | undefined, tag: string): Promise<{ spec: BatonFile; secretPaths: string[] }>;
  clientFor(environment: string): Promise<ApiClient>;
  cwd: string;
  /** Progress lines (stderr). */
  log(line: string): void;
  /** Deploy progress events. */
  onDeployEvent(e: DeployEvent): void;
}

export interface StageResult {
  stage: string;
  ok: boolean;
  ms: number;
  detail: string;
}

export interface DeployedService {
  environment: string;
  service: string;
  from: number | null;
  revision: number;
  /** False when the revision was already serving: a release of the same sha deploys nothing new. */
  changed: boolean;
}

export interface ReleaseOutcome {
  ok: boolean;
  stages: StageResult[];
  deployed: DeployedService[];
  rolledBack: DeployedService[];
}

/** A stage that failed in a way the release reports (exit 1), as opposed to bad input or an unreachable daemon. */
class StageFailed extends Error {}

function runShell(command: string, cwd: string, log: (s: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const relay = (c: Buffer) => {
      for (const l of c.toString().split('\n')) if (l) log(`    ${l}`);
    };
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    child.on('error', (e) => reject(new StageFailed(`${command}: ${e.message}`)));
    child.on('close', (code, signal) =>
      code === 0
        ? resolve('exit 0')
        : reject(new StageFailed(`${command}: ${signal ? `killed by ${signal}` : `exit ${code}`}`)),
    );
  });
}

async function currentRevision(api: ApiClient, service: string): Promise<number | null> {
  try {
    return (await api.json<{ current: number | null }>('GET', `/v1/services/${encodeURIComponent(service)}`))
      .current;
  } catch (e) {
    if (e instanceof BatonError && e.code === 'NOT_FOUND') return null;
    throw e;
  }
}

export async function runRelease(plan: ReleasePlan, deps: ReleaseDeps): Promise<ReleaseOutcome> {
  const out: ReleaseOutcome = { ok: true, stages: [], deployed: [], rolledBack: [] };
  let docker: ReturnType<typeof connectDocker> | undefined;
  const endpoint = dockerEndpoint();
  const dockerClient = () => {
    docker ??= connectDocker(endpoint);
    return docker;
  };
  let spec: BatonFile | undefined;

  const run = async (s: Stage): Promise<string> => {
    switch (s.kind) {
      case 'test':
        return runShell(s.command, deps.cwd, deps.log);
      case 'build':
        await buildImage(dockerClient(), endpoint, s, (l) => deps.log(`    ${l}`));
        return `${s.image}:${s.tags.join(', :')}`;
      case 'push': {
        spec ??= (await deps.specFor(undefined, plan.sha)).spec;
        const svc = spec.services[s.service];
        const auth = svc?.runtime === 'docker' ? svc.registryAuth : undefined;
        await pushImage(dockerClient(), endpoint, { ...s, auth }, () => undefined);
        return s.tags.map((t) => `${s.image}:${t}`).join(', ');
      }
      case 'deploy':
        return deploy(s);
      case 'checks':
        return checks(s);
    }
  };

  const deploy = async (s: Extract<Stage, { kind: 'deploy' }>): Promise<string> => {
    const loaded = await deps.specFor(s.environment, s.tag);
    const api = await deps.clientFor(s.environment);
    const secrets = loaded.secretPaths;
    const notes: string[] = [];
    for (const name of s.services) {
      const prefix = `services.${name}.`;
      const secretPaths = secrets.filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length));
      const from = await currentRevision(api, name);
      const last = await api.stream<DeployEvent>(
        'POST',
        '/v1/deploy',
        {
          service: name,
          spec: loaded.spec.services[name],
          secretPaths,
          secretEnv: secretPaths.filter((p) => /^env\.[^.]+$/.test(p)).map((p) => p.slice(4)),
          actor: `release:${plan.ref}@${plan.sha.slice(0, 12)} (${userInfo().username})`,
        },
        deps.onDeployEvent,
      );
      if (last?.type !== 'result')
        throw new StageFailed(`the control plane ended the deploy of ${name} without a result`);
      if (!last.ok) throw new StageFailed(last.message);
      const d = {
        environment: s.environment,
        service: name,
        from,
        revision: last.revision,
        changed: from !== last.revision,
      };
      out.deployed.push(d);
      notes.push(`${name} r${last.revision}${d.changed ? '' : ' (already serving: nothing new)'}`);
    }
    return notes.join(', ');
  };

  const checks = async (s: Extract<Stage, { kind: 'checks' }>): Promise<string> => {
    for (const [i, c] of s.checks.entries()) {
      const r = await runCheck(c, {
        service: out.deployed.map((d) => d.service).join(','),
        revision: out.deployed[0]?.revision ?? 0,
        fromRevision: out.deployed[0]?.from ?? null,
        deployment: `release-${plan.sha.slice(0, 12)}`,
        hook: 'check',
        strategy: 'release',
      });
      if (!r.ok) {
        await rollBack(s.environment);
        throw new StageFailed(`check ${i + 1} failed: ${r.detail}${r.output ? `\n${r.output}` : ''}`);
      }
    }
    return `${s.checks.length} passed`;
  };

  /** The environment's checks failed: every service this release changed goes back to where it was. */
  const rollBack = async (environment: string) => {
    const api = await deps.clientFor(environment);
    for (const d of out.deployed.filter(
      (x) => x.environment === environment && x.changed && x.from !== null,
    )) {
      deps.log(`  rolling back ${d.service} on ${environment} to revision ${d.from}`);
      const last = await api.stream<DeployEvent>(
        'POST',
        `/v1/services/${encodeURIComponent(d.service)}/rollback`,
        { to: d.from, actor: `release:${plan.ref}@${plan.sha.slice(0, 12)} (checks failed)` },
        deps.onDeployEvent,
      );
      if (last?.type === 'result' && last.ok) out.rolledBack.push(d);
      else
        deps.log(
          `  rollback of ${d.service} failed: ${last?.type === 'result' ? last.message : 'no result'}`,
        );
    }
  };

  for (const [i, s] of plan.stages.entries()) {
    const name = s.kind === 'build' || s.kind === 'push' ? `${s.kind} ${s.service}` : s.kind;
    deps.log(`[${i + 1}/${plan.stages.length}] ${describeLine(s)}`);
    const t0 = performance.now();
    try {
      const detail = await run(s);
      const ms = Math.round(performance.now() - t0);
      out.stages.push({ stage: name, ok: true, ms, detail });
      deps.log(`  ✓ ${name} (${(ms / 1000).toFixed(1)}s): ${detail}`);
    } catch (err) {
      // Bad input and an unreachable daemon keep their own exit codes; anything else fails the release.
      if (err instanceof InputError || (err instanceof BatonError && err.exitCode !== 1)) throw err;
      const ms = Math.round(performance.now() - t0);
      const detail = err instanceof Error ? err.message : String(err);
      out.stages.push({ stage: name, ok: false, ms, detail });
      out.ok = false;
      deps.log(`  ✗ ${name} (${(ms / 1000).toFixed(1)}s): ${detail}`);
      break;
    }
  }
  return out;
}
