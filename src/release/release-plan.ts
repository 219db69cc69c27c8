import type { CheckSpec } from '../spec/hooks.js';
import { actionFor } from '../spec/pipeline.js';
import type { BatonFile } from '../spec/schema.js';

/**
 * What `baton release --ref REF --sha SHA` will do, decided before anything runs (a pure function of the
 * spec, the ref and the sha): `--dry-run` prints it, the runner executes it stage by stage.
 */
export type Stage =
  | { kind: 'test'; command: string }
  | {
      kind: 'build';
      service: string;
      image: string;
      tags: string[];
      context: string;
      dockerfile: string;
      args: Record<string, string>;
    }
  | { kind: 'push'; service: string; image: string; tags: string[] }
  | { kind: 'deploy'; environment: string; services: string[]; tag: string }
  | { kind: 'checks'; environment: string; checks: CheckSpec[] };

export interface ReleasePlan {
  ref: string;
  sha: string;
  /** The pattern that matched, or `(no rule: tests only)`. */
  rule: string;
  stages: Stage[];
}

const SHA = /^[0-9a-f]{7,64}$/;

/** The ref's short name as a Docker tag: `refs/tags/v1-staging` → `v1-staging`, `refs/heads/a/b` → `a-b`. */
export function refTag(ref: string): string {
  const short = ref.replace(/^refs\/(heads|tags)\//, '');
  const tag = short
    .replace(/[^\w.-]/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 128);
  return tag || 'ref';
}

/** An error message for a bad ref or sha, or undefined. */
export function checkRefSha(ref: string, sha: string): string | undefined {
  if (!/^refs\/(heads|tags)\/\S+$/.test(ref))
    return `--ref expects a full git ref such as refs/heads/main or refs/tags/v1-prod, got ${JSON.stringify(ref)}`;
  if (!SHA.test(sha))
    return `--sha expects a commit hash (7 to 64 lower-case hex digits), got ${JSON.stringify(sha)}`;
  return undefined;
}

export function planRelease(
  spec: BatonFile,
  ref: string,
  sha: string,
  baseDir: (p: string) => string,
): ReleasePlan {
  const action = actionFor(spec.pipeline, ref);
  const stages: Stage[] = [];
  const test = spec.pipeline?.test;
  if (action.test && test) stages.push({ kind: 'test', command: test });
  const builds = Object.entries(spec.pipeline?.build ?? {});
  if (action.build) {
    const tags = [...new Set([sha, refTag(ref)])];
    for (const [service, b] of builds) {
      const svc = spec.services[service];
      if (svc?.runtime !== 'docker') continue;
      stages.push({
        kind: 'build',
        service,
        image: svc.image,
        tags,
        context: baseDir(b.context),
        dockerfile: b.dockerfile,
        args: b.args,
      });
      stages.push({ kind: 'push', service, image: svc.image, tags });
    }
  }
  if (action.deploy !== undefined) {
    stages.push({
      kind: 'deploy',
      environment: action.deploy,
      services: Object.keys(spec.services),
      tag: sha,
    });
    const checks = spec.environments?.[action.deploy]?.checks ?? [];
    if (checks.length > 0) stages.push({ kind: 'checks', environment: action.deploy, checks });
  }
  return { ref, sha, rule: action.rule, stages };
}

/** One line per stage, for progress and `--dry-run`. */
export function describeStage(s: Stage): string {
  switch (s.kind) {
    case 'test':
      return `test: ${s.command}`;
    case 'build':
      return `build ${s.service}: ${s.image}:${s.tags.join(', :')} from ${s.context} (${s.dockerfile})`;
    case 'push':
      return `push ${s.service}: ${s.tags.map((t) => `${s.image}:${t}`).join(', ')}`;
    case 'deploy':
      return `deploy to ${s.environment}: ${s.services.join(', ')} (images tagged ${s.tag})`;
    case 'checks':
      return `checks on ${s.environment}: ${s.checks.length} check(s) through its load balancer`;
  }
}
