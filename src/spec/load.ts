import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SpecError, type SpecIssue } from '../core/errors.js';
import { environmentNames, overrideIssues, withEnvironment } from './environment-merge.js';
import { errorMap, toSpecIssues } from './issues.js';
import { isUnder } from './positions.js';
import { FAILED, Resolver } from './resolve.js';
import { type BatonFile, fileSchema } from './schema.js';
import { applyOverride, parseOverrides, SET_POS } from './set.js';
import { tlsFileIssues } from './tls.js';

export interface LoadOptions {
  /** Picks the entry of every `!profile` mapping (falling back to its `default` entry). */
  profile?: string | undefined;
  /** `KEY=VALUE` overrides: a dotted path and a YAML scalar, applied after tags and before validation. */
  set?: readonly string[] | undefined;
  /** Merges this environment's overrides onto the services (before `--set`). */
  environment?: string | undefined;
  /** Where `!env` looks (default: `process.env`). */
  env?: NodeJS.ProcessEnv | undefined;
}

export interface LoadedSpec {
  file: string;
  spec: BatonFile;
  /** Dotted paths of values that came from !env/!file/!base64 — secrets to redact when printing. */
  secretPaths: string[];
}

/** Reads, resolves and validates a `baton.yaml`. Throws `SpecError` listing every problem found. */
export async function loadSpecFile(file: string, opts: LoadOptions = {}): Promise<LoadedSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? String(e));
    throw new SpecError([{ file, line: 1, column: 1, path: '', message: `cannot read the spec: ${why}` }]);
  }
  return loadSpecText(text, file, opts);
}

/** Like `loadSpecFile`, from text; `file` names it in issues and anchors relative tag paths. */
export async function loadSpecText(text: string, file: string, opts: LoadOptions = {}): Promise<LoadedSpec> {
  const resolver = new Resolver({ profile: opts.profile, env: opts.env ?? process.env });
  let raw = await resolver.text(text, file, path.resolve(file), [], []);
  resolver.finish();

  // Every environment's merged services are validated, whichever one (if any) this command targets.
  const envIssues = raw === FAILED ? [] : overrideIssues(raw, resolver);
  if (raw !== FAILED && opts.environment !== undefined) {
    const merged = withEnvironment(raw, opts.environment, (from, to, paths) =>
      resolver.merged(from, to, paths),
    );
    if (merged === undefined) {
      const names = environmentNames(raw);
      resolver.issues.push({
        ...resolver.positions.key(['environments']),
        path: 'environments',
        message: `no environment "${opts.environment}" (declared: ${names.join(', ') || 'none'})`,
      });
    } else raw = merged;
  }

  const { overrides, issues: setIssues } = parseOverrides(opts.set ?? []);
  if (raw !== FAILED) {
    for (const o of overrides) {
      const applied = applyOverride(raw, o);
      if (typeof applied === 'string') {
        setIssues.push({ ...SET_POS, path: o.path.join('.'), message: applied });
        continue;
      }
      raw = applied.root;
      resolver.replaced(o.path);
      for (const p of [...applied.created, o.path]) resolver.positions.set(p, SET_POS);
    }
  }
  const issues: SpecIssue[] = [...resolver.issues, ...envIssues, ...setIssues];
  if (raw === FAILED) throw new SpecError(sorted(issues, resolver.files));

  const { error, knownKeys } = errorMap();
  const parsed = fileSchema.safeParse(raw, { error, reportInput: true });
  if (!parsed.success) {
    const ctx = {
      raw,
      positions: resolver.positions,
      isSecret: (p: readonly PropertyKey[]) => resolver.isSecret(p),
    };
    for (const i of toSpecIssues(parsed.error.issues, ctx, knownKeys)) {
      // A value whose tag failed is already reported; do not report it again as missing or mistyped.
      const p = i.path === '' ? [] : i.path.split('.');
      // With --env, an override's error is also found by the merged validation: report it once.
      const same = (o: SpecIssue) =>
        o.file === i.file && o.line === i.line && o.column === i.column && o.message === i.message;
      if (!resolver.failedPaths.some((f) => isUnder(p, f)) && !envIssues.some(same)) issues.push(i);
    }
  }
  if (parsed.success && issues.length === 0)
    issues.push(...tlsFileIssues(parsed.data.services, file, resolver.positions));
  if (issues.length > 0 || !parsed.success) throw new SpecError(sorted(issues, resolver.files));
  return { file, spec: parsed.data, secretPaths: resolver.secretPaths() };
}

/** In file order (the top file first, then includes as read, `--set` last), then by line and column. */
function sorted(issues: SpecIssue[], files: readonly string[]): SpecIssue[] {
  const rank = (f: string) => (f === SET_POS.file ? files.length + 1 : files.indexOf(f) >>> 0);
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort(
      (a, b) =>
        rank(a.issue.file) - rank(b.issue.file) ||
        a.issue.line - b.issue.line ||
        a.issue.column - b.issue.column ||
        a.i - b.i,
    )
    .map((x) => x.issue);
}
