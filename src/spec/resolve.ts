import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type YAMLMap,
} from 'yaml';
import type { SpecIssue } from '../core/errors.js';
import { dotted, isUnder, type Pos, PositionMap } from './positions.js';
import { nodeAt, posAt, type Source } from './source.js';
import { CUSTOM_TAGS, isYamlTag, KNOWN_TAGS, lookupEnv, parseEnvRef } from './tags.js';
import { syntaxMessage } from './yaml-errors.js';

/** A value that could not be produced; the issue saying why is already recorded. */
export const FAILED: unique symbol = Symbol('failed');
type Resolved = unknown;

type Stack = readonly { abs: string; label: string }[];

export const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: true, customTags: CUSTOM_TAGS } as const;
const MAX_DEPTH = 64;
const MAX_ALIASES = 10_000;

/**
 * Turns a parsed `baton.yaml` into plain data, resolving the custom tags on the way and recording where every
 * value came from. Problems become `issues`; the values they concern are left out and their paths listed in
 * `failedPaths`, so that schema validation does not report them a second time as missing.
 */
export class Resolver {
  readonly issues: SpecIssue[] = [];
  readonly positions = new PositionMap();
  readonly failedPaths: PropertyKey[][] = [];
  /** Files in the order they were read, so issues can be sorted the same way. */
  readonly files: string[] = [];
  private readonly secrets = new Map<string, PropertyKey[]>();
  private readonly profileNames = new Set<string>();
  private firstProfile: Pos | undefined;
  private profileReported = false;
  private aliases = 0;
  /** Alias targets being expanded, to stop an alias inside the value it names. */
  private readonly expanding = new Set<unknown>();

  constructor(private readonly opts: { profile?: string | undefined; env: NodeJS.ProcessEnv }) {}

  /** Parses YAML text and resolves it into the value found at `at`. */
  async text(text: string, label: string, abs: string, at: PropertyKey[], stack: Stack): Promise<Resolved> {
    const lines = new LineCounter();
    const doc = parseDocument(text, { ...PARSE_OPTIONS, lineCounter: lines });
    const src: Source = { label, abs, text, lines, doc };
    if (!this.files.includes(label)) this.files.push(label);
    if (doc.errors.length > 0) {
      for (const e of doc.errors) this.issue(posAt(src, e.pos[0]), at, syntaxMessage(e, text));
      this.failedPaths.push(at);
      return FAILED;
    }
    if (!doc.contents) this.positions.set(at, posAt(src, 0));
    return this.node(doc.contents, at, src, [...stack, { abs, label }]);
  }

  /** Dotted paths of values that came from `!env`, `!file` or `!base64`. */
  secretPaths(): string[] {
    return [...this.secrets.keys()].sort();
  }

  isSecret(p: readonly PropertyKey[]): boolean {
    return this.secrets.has(dotted(p));
  }

  /** A `--set` replaced everything under `p`: the secrets, failures and issues found there are moot. */
  replaced(p: readonly PropertyKey[]): void {
    for (const [k, sp] of this.secrets) if (isUnder(sp, p)) this.secrets.delete(k);
    const keep = <T>(xs: T[], under: (x: T) => boolean) =>
      xs.splice(0, xs.length, ...xs.filter((x) => !under(x)));
    keep(this.failedPaths, (f) => isUnder(f, p));
    keep(this.issues, (i) => i.path !== '' && isUnder(i.path.split('.'), p));
    this.positions.deleteUnder(p);
  }

  /** `from`+p was merged to `to`+p for each of `paths` (environment overrides): positions and secrecy follow. */
  merged(from: readonly PropertyKey[], to: readonly PropertyKey[], paths: readonly PropertyKey[][]): void {
    for (const p of paths) {
      const [src, dst] = [
        [...from, ...p],
        [...to, ...p],
      ];
      if (this.positions.has(src))
        this.positions.set(dst, this.positions.value(src), this.positions.key(src));
      if (this.isSecret(src)) this.secrets.set(dotted(dst), dst);
      else this.secrets.delete(dotted(dst));
    }
  }

  /** Checks made once the whole tree is resolved. */
  finish(): void {
    const { profile } = this.opts;
    if (profile === undefined || !this.firstProfile || this.profileReported || this.profileNames.has(profile))
      return;
    this.issue(
      this.firstProfile,
      [],
      `profile "${profile}" is not defined by any !profile; available: ${list(this.profileNames)}`,
    );
  }

  private async node(n: unknown, at: PropertyKey[], src: Source, stack: Stack): Promise<Resolved> {
    if (!isNode(n) && !isAlias(n)) return null;
    if (at.length > MAX_DEPTH) return this.fail(nodeAt(src, n), at, 'nested too deeply (alias cycle?)');
    if (isAlias(n)) {
      const target = n.resolve(src.doc);
      if (!target) return this.fail(nodeAt(src, n), at, `unknown alias *${n.source}`);
      if (this.expanding.has(target)) {
        return this.fail(nodeAt(src, n), at, `alias *${n.source} refers to a value that contains it`);
      }
      if (++this.aliases > MAX_ALIASES) {
        // Reported once: a "billion laughs" document would otherwise yield an issue per expansion.
        return this.aliases === MAX_ALIASES + 1 ? this.fail(nodeAt(src, n), at, 'too many aliases') : FAILED;
      }
      this.expanding.add(target);
      try {
        return await this.node(target, at, src, stack);
      } finally {
        this.expanding.delete(target);
      }
    }
    const here = nodeAt(src, n);
    this.positions.set(at, here);
    if (n.tag && !isYamlTag(n.tag)) return this.tagged(n, n.tag, here, at, src, stack);
    if (isMap(n)) return this.map(n, at, src, stack);
    if (isSeq(n)) {
      const out: unknown[] = [];
      for (const [i, item] of n.items.entries()) {
        const v = await this.node(item, [...at, i], src, stack);
        out.push(v === FAILED ? null : v);
      }
      return out;
    }
    return isScalar(n) ? n.value : null;
  }

  private async map(n: YAMLMap, at: PropertyKey[], src: Source, stack: Stack): Promise<Resolved> {
    const out: Record<string, unknown> = {};
    for (const pair of n.items) {
      const k = pair.key;
      if (!isScalar(k) || (k.tag && !isYamlTag(k.tag))) {
        this.issue(isNode(k) ? nodeAt(src, k) : this.positions.value(at), at, 'keys must be plain scalars');
        continue;
      }
      const key = String(k.value);
      const child = [...at, key];
      const keyAt = nodeAt(src, k);
      this.positions.set(child, isNode(pair.value) ? nodeAt(src, pair.value) : keyAt, keyAt);
      const v = await this.node(pair.value, child, src, stack);
      // `__proto__` and friends become plain own keys (and then unknown keys), never prototypes.
      if (v !== FAILED)
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  private async tagged(n: Node, tag: string, here: Pos, at: PropertyKey[], src: Source, stack: Stack) {
    switch (tag) {
      case '!env':
        return this.env(n, here, at);
      case '!file':
      case '!base64': {
        const file = this.pathArg(n, tag, here, at);
        if (file === FAILED) return FAILED;
        const bytes = await this.read(file, tag, here, at, src);
        if (bytes === FAILED) return FAILED;
        this.secret(at);
        return tag === '!file' ? bytes.toString('utf8') : bytes.toString('base64');
      }
      case '!include':
        return this.include(n, here, at, src, stack);
      case '!profile':
        return this.profile(n, here, at, src, stack);
      default:
        return this.fail(here, at, `unknown tag ${tag}; known tags: ${KNOWN_TAGS.join(', ')}`);
    }
  }

  private env(n: Node, here: Pos, at: PropertyKey[]): Resolved {
    let ref: ReturnType<typeof parseEnvRef>;
    if (isScalar(n) && typeof n.value === 'string') ref = parseEnvRef(n.value);
    else if (isSeq(n) && n.items.length >= 1 && n.items.length <= 2 && n.items.every((i) => isScalar(i))) {
      const [name, fallback] = n.items.map((i) => String(i.value));
      ref = parseEnvRef(name!);
      if (typeof ref !== 'string' && fallback !== undefined) ref.fallback = fallback;
    } else ref = '!env expects NAME, NAME:-default or [NAME, default]';
    if (typeof ref === 'string') return this.fail(here, at, ref);
    const found = lookupEnv(this.opts.env, ref.name, ref.fallback);
    if ('missing' in found) {
      return this.fail(here, at, `environment variable ${ref.name} is not set and !env gives no default`);
    }
    this.secret(at);
    return found.value;
  }

  private async include(n: Node, here: Pos, at: PropertyKey[], src: Source, stack: Stack) {
    const file = this.pathArg(n, '!include', here, at);
    if (file === FAILED) return FAILED;
    const abs = path.resolve(path.dirname(src.abs), file);
    const label = path.isAbsolute(file) ? file : path.join(path.dirname(src.label), file);
    const loop = stack.findIndex((s) => s.abs === abs);
    if (loop >= 0) {
      const root = path.dirname(stack[0]!.abs);
      const chain = [...stack.slice(loop).map((s) => s.abs), abs]
        .map((f) => path.relative(root, f))
        .join(' → ');
      return this.fail(here, at, `!include cycle: ${chain}`);
    }
    const bytes = await this.read(file, '!include', here, at, src);
    if (bytes === FAILED) return FAILED;
    return this.text(bytes.toString('utf8'), label, abs, at, stack);
  }

  private async profile(n: Node, here: Pos, at: PropertyKey[], src: Source, stack: Stack) {
    if (!isMap(n)) return this.fail(here, at, '!profile expects a mapping of profile names to values');
    const entries = new Map<string, unknown>();
    for (const pair of n.items) if (isScalar(pair.key)) entries.set(String(pair.key.value), pair.value);
    const names = [...entries.keys()].filter((k) => k !== 'default');
    for (const name of names) this.profileNames.add(name);
    this.firstProfile ??= here;
    const { profile } = this.opts;
    const pick = profile !== undefined && entries.has(profile) ? profile : 'default';
    if (!entries.has(pick)) {
      this.profileReported = true;
      return this.fail(
        here,
        at,
        profile === undefined
          ? `no profile selected and !profile has no default entry; pass --profile with one of: ${list(names)}`
          : `unknown profile "${profile}" and !profile has no default entry; available: ${list(names)}`,
      );
    }
    return this.node(entries.get(pick), at, src, stack);
  }

  private pathArg(n: Node, tag: string, here: Pos, at: PropertyKey[]): string | typeof FAILED {
    if (isScalar(n) && typeof n.value === 'string' && n.value.trim() !== '') return n.value.trim();
    return this.fail(here, at, `${tag} expects a file path`);
  }

  private async read(file: string, tag: string, here: Pos, at: PropertyKey[], src: Source) {
    const abs = path.resolve(path.dirname(src.abs), file);
    try {
      return await readFile(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? String(e));
      return this.fail(here, at, `${tag} ${JSON.stringify(file)}: ${why} (${abs})`);
    }
  }

  private secret(at: PropertyKey[]): void {
    this.secrets.set(dotted(at), at);
  }

  private issue(pos: Pos, at: readonly PropertyKey[], message: string): void {
    this.issues.push({ ...pos, path: dotted(at), message });
  }

  private fail(pos: Pos, at: PropertyKey[], message: string): typeof FAILED {
    this.issue(pos, at, message);
    this.failedPaths.push(at);
    return FAILED;
  }
}

const list = (names: Iterable<string>): string => [...names].join(', ') || '(none)';
