import { z } from 'zod';

/**
 * `pipeline:` — what `baton release --ref REF` does for a git ref (the ECS pipeline seed's flows): the
 * test command is declared once, each docker service says where its image is built from, and ref
 * patterns map to actions. A ref no pattern matches only runs the tests.
 */

/**
 * `refs/heads/main`, `refs/tags/*-staging`, `refs/heads/*-dev`, or `*` (every ref). A `*` stands for any
 * characters; the rest must be a name git accepts in a ref.
 */
export const refPattern = z
  .string()
  .refine(
    (p) =>
      p === '*' ||
      (/^refs\/(heads|tags)\/[^\s~^:?[\\]+$/.test(p) &&
        !p.includes('..') &&
        !p.includes('**') &&
        !p.includes('//') &&
        !p.endsWith('/') &&
        !p.endsWith('.lock')),
    'expected a ref pattern such as refs/heads/main, refs/tags/*-prod or * (a `*` matches any characters; no spaces, `..`, `~^:?[\\`)',
  );

export const pipelineActionSchema = z
  .strictObject({
    /** Run the test command (default: true when building, or when nothing else is asked). */
    test: z.boolean().optional(),
    /** Build the image of every service in `build` (tagged with the sha and the ref's name) and push it. */
    build: z.boolean().default(false),
    /** Deploy the sha's image to this environment, then run its checks. */
    deploy: z.string().optional(),
  })
  .transform((a) => ({ ...a, test: a.test ?? (a.build || a.deploy === undefined) }));

const buildSchema = z.strictObject({
  /** Build context directory (relative to baton.yaml). */
  context: z.string().min(1).default('.'),
  /** Dockerfile inside the context. */
  dockerfile: z.string().min(1).default('Dockerfile'),
  /** `--build-arg`s. */
  args: z.record(z.string(), z.string()).default({}),
});

export const pipelineSchema = z.strictObject({
  /** The test command (a shell line), run from baton.yaml's directory. */
  test: z.string().min(1).optional(),
  /** Where each docker service's image is built from. */
  build: z.record(z.string(), buildSchema).default({}),
  /** Ref pattern → action; the first pattern that matches (in file order) wins. */
  refs: z.record(refPattern, pipelineActionSchema).default({}),
});

export type PipelineSpec = z.output<typeof pipelineSchema>;
export type PipelineAction = z.output<typeof pipelineActionSchema>;
export type BuildSpec = z.output<typeof buildSchema>;

/** Whether `ref` matches `pattern` (`*` = any characters). */
export function refMatches(pattern: string, ref: string): boolean {
  const re = pattern
    .split('*')
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${re}$`).test(ref);
}

/** The action for `ref`: the first matching pattern's, else only the tests. */
export function actionFor(
  pipeline: PipelineSpec | undefined,
  ref: string,
): PipelineAction & { rule: string } {
  for (const [pattern, action] of Object.entries(pipeline?.refs ?? {}))
    if (refMatches(pattern, ref)) return { ...action, rule: pattern };
  return { test: true, build: false, rule: '(no rule: tests only)' };
}
