import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../core/errors.js';
import { checkRefSha, describeStage, planRelease } from '../../release/release-plan.js';
import { runRelease } from '../../release/release-run.js';
import { loadSpecFile } from '../../spec/load.js';
import { ApiClient } from '../client.js';
import { action, type Io, stdio } from '../context.js';
import { resolveTarget } from '../environment.js';
import { progressPrinter } from '../progress.js';

/** `--sha`, else the CI's own variable, else `git rev-parse HEAD` next to baton.yaml. */
function commitSha(flag: string | undefined, dir: string): string {
  const fromCi = process.env.GITHUB_SHA ?? process.env.CIRCLE_SHA1;
  if (flag ?? fromCi) return (flag ?? fromCi)!;
  const r = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0)
    throw new InputError('--sha is required outside a git checkout (git rev-parse HEAD failed)');
  return r.stdout.trim();
}

export function registerRelease(program: Command, io: Io = stdio): void {
  program
    .command('release')
    .description("do what baton.yaml's pipeline asks for a git ref: test, build and push, deploy, check")
    .requiredOption('--ref <ref>', 'the git ref, e.g. refs/heads/main or refs/tags/v1-prod')
    .option('--sha <sha>', 'the commit (default: $GITHUB_SHA, $CIRCLE_SHA1 or git rev-parse HEAD)')
    .option('-f, --file <path>', 'spec file', 'baton.yaml')
    .option('--dry-run', 'list the stages; do nothing')
    .option('--json', 'print the result as JSON on stdout')
    .action(
      action(async (opts: { ref: string; sha?: string; file: string; dryRun?: boolean; json?: boolean }) => {
        const dir = path.dirname(path.resolve(opts.file));
        const { spec } = await loadSpecFile(opts.file);
        const sha = commitSha(opts.sha, dir);
        const bad = checkRefSha(opts.ref, sha);
        if (bad) throw new InputError(bad);
        const plan = planRelease(spec, opts.ref, sha, (p) => path.resolve(dir, p));
        if (opts.dryRun) {
          if (opts.json) io.out(JSON.stringify({ ok: true, dryRun: true, ...plan }, null, 2));
          else {
            io.out(`release ${opts.ref} @ ${sha} (rule: ${plan.rule})`);
            if (plan.stages.length === 0) io.out('  nothing to do');
            for (const [i, s] of plan.stages.entries()) io.out(`  ${i + 1}. ${describeStage(s)}`);
            io.out('  nothing was done (--dry-run)');
          }
          return 0;
        }
        // Resolve every environment the plan touches first: a missing token is bad input before any build.
        const clients = new Map<string, ApiClient>();
        for (const s of plan.stages) {
          if (s.kind !== 'deploy' || clients.has(s.environment)) continue;
          const t = await resolveTarget(opts.file, s.environment);
          if (t.kind === 'nats')
            throw new InputError(
              `environment ${t.name} is a cluster: baton release deploys to control planes (api)`,
            );
          clients.set(s.environment, ApiClient.forTarget(t));
        }
        const deploying = new Set(
          Object.entries(spec.services).flatMap(([n, s]) =>
            s.runtime === 'docker' && spec.pipeline?.build[n] ? [n] : [],
          ),
        );
        const started = performance.now();
        const log = opts.json ? () => undefined : io.err;
        log(`release ${opts.ref} @ ${sha.slice(0, 12)} (rule: ${plan.rule}): ${plan.stages.length} stage(s)`);
        const outcome = await runRelease(plan, {
          cwd: dir,
          log,
          onDeployEvent: opts.json ? () => undefined : progressPrinter((l) => io.err(`  ${l}`)),
          clientFor: async (env) => clients.get(env)!,
          specFor: async (environment, tag) => {
            // Quoted: a sha of digits only must stay a string.
            const set = [...deploying].map((n) => `services.${n}.tag="${tag}"`);
            return loadSpecFile(opts.file, { ...(environment ? { environment } : {}), set });
          },
        });
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        if (opts.json) io.out(JSON.stringify({ ...plan, ...outcome }, null, 2));
        else
          io.err(
            outcome.ok
              ? `✓ release ${opts.ref} done (${seconds}s)`
              : `✗ release ${opts.ref} failed (${seconds}s)${outcome.rolledBack.length ? `; rolled back: ${outcome.rolledBack.map((d) => `${d.service} to r${d.from}`).join(', ')}` : ''}`,
          );
        return outcome.ok ? 0 : 1;
      }),
    );
}
