import type { z } from 'zod';
import type { SpecIssue } from '../core/errors.js';
import { dotted, type PositionMap } from './positions.js';

type ZodIssue = z.core.$ZodIssue;

/** Stands for "zod's default message": such issues get Baton's wording, built from the issue's fields. */
const DEFAULT = '\u0000default';
const WORDED = new Set([
  'invalid_type',
  'too_small',
  'too_big',
  'invalid_value',
  'invalid_union',
  'invalid_format',
]);
const WORDED_ALWAYS = new Set(['unrecognized_keys', 'invalid_key']);

interface Context {
  /** The data that was validated (before defaults and transforms). */
  raw: unknown;
  positions: PositionMap;
  isSecret(path: readonly PropertyKey[]): boolean;
}

/**
 * An error map for `safeParse(..., { error })`. Messages written in the schema win over it, so it only
 * marks the issues zod would word itself; `toSpecIssues` words them. It also remembers the keys each
 * strict object knows, to suggest one for an unknown key.
 */
export function errorMap(): { error: z.core.$ZodErrorMap; knownKeys: Map<unknown, string[]> } {
  const knownKeys = new Map<unknown, string[]>();
  const error: z.core.$ZodErrorMap = (iss) => {
    if (iss.code === 'unrecognized_keys') {
      const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod
        ?.def?.shape;
      if (shape) knownKeys.set(iss.input, Object.keys(shape));
    }
    return iss.code && (WORDED.has(iss.code) || WORDED_ALWAYS.has(iss.code)) ? DEFAULT : undefined;
  };
  return { error, knownKeys };
}

export function toSpecIssues(
  issues: readonly ZodIssue[],
  ctx: Context,
  knownKeys: Map<unknown, string[]>,
): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const iss of issues) translate(iss, [], ctx, knownKeys, out);
  return out;
}

function translate(
  iss: ZodIssue,
  prefix: readonly PropertyKey[],
  ctx: Context,
  knownKeys: Map<unknown, string[]>,
  out: SpecIssue[],
): void {
  const path = [...prefix, ...iss.path];
  const here = lookup(ctx.raw, path);
  const secret = ctx.isSecret(path);
  const found = here.present ? describe(here.value, secret) : 'nothing';
  const push = (message: string, at = ctx.positions.value(path), p: readonly PropertyKey[] = path) => {
    const text =
      secret && typeof here.value === 'string' && here.value
        ? message.split(here.value).join('***')
        : message;
    out.push({ ...at, path: dotted(p), message: text });
  };
  const missing = () =>
    push(`required field "${String(path.at(-1))}" is missing`, ctx.positions.value(path.slice(0, -1)));
  const own = iss.message !== DEFAULT;

  switch (iss.code) {
    case 'unrecognized_keys':
      for (const key of iss.keys) {
        const p = [...path, key];
        push(`unknown key "${key}"${suggest(key, knownKeys.get(iss.input))}`, ctx.positions.key(p), p);
      }
      return;
    case 'invalid_key': {
      const inner = iss.issues[0]?.message;
      const name = JSON.stringify(String(path.at(-1)));
      push(
        `invalid name ${name}: ${inner && inner !== DEFAULT ? inner : 'not allowed here'}`,
        ctx.positions.key(path),
      );
      return;
    }
    case 'invalid_union': {
      if (iss.discriminator !== undefined && 'options' in iss) {
        const options = (iss.options ?? []).map((o) => JSON.stringify(o)).join(', ');
        if (!here.present)
          push(
            `required field "${iss.discriminator}" is missing; expected one of ${options}`,
            ctx.positions.value(path.slice(0, -1)),
          );
        else push(`expected one of ${options}, found ${found}`);
        return;
      }
      if (!here.present) {
        missing();
        return;
      }
      // A branch whose type matched but whose contents did not is the one the author meant: report its issues.
      const deep = iss.errors.filter(
        (b) => !(b.length === 1 && b[0]!.code === 'invalid_type' && b[0]!.path.length === 0),
      );
      if (deep.length === 1) {
        for (const sub of deep[0]!) translate(sub, path, ctx, knownKeys, out);
        return;
      }
      const expected = new Set(
        iss.errors.flatMap((b) => (b[0]?.code === 'invalid_type' ? [kind(b[0].expected)] : [])),
      );
      push(`expected ${[...expected].join(' or ') || 'another value'}, found ${found}`);
      return;
    }
    case 'invalid_type':
      if (!here.present) {
        missing();
        return;
      }
      push(own ? withFound(iss.message, found) : `expected ${kind(iss.expected)}, found ${found}`);
      return;
    case 'too_small':
    case 'too_big':
      push(withFound(own ? iss.message : `expected ${bound(iss)}`, found));
      return;
    case 'invalid_value':
      push(
        withFound(
          own ? iss.message : `expected ${iss.values.map((v) => JSON.stringify(v)).join(' or ')}`,
          found,
        ),
      );
      return;
    case 'invalid_format':
      push(withFound(own ? iss.message : `expected a string matching ${iss.pattern ?? iss.format}`, found));
      return;
    default:
      // Custom checks (durations, one probe kind, unique ports) word their own messages in full.
      push(iss.message);
  }
}

const withFound = (message: string, found: string): string =>
  message.includes('found') ? message : `${message}, found ${found}`;

const KINDS: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'a boolean (true or false)',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'an empty value',
};
const kind = (expected: string): string => KINDS[expected] ?? expected;

function bound(iss: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = iss.code === 'too_small';
  const n = Number(small ? iss.minimum : iss.maximum);
  const cmp = small ? (iss.inclusive ? 'at least' : 'more than') : iss.inclusive ? 'at most' : 'less than';
  if (iss.origin === 'string')
    return small && n === 1 ? 'a non-empty string' : `a string of ${cmp} ${n} characters`;
  if (iss.origin === 'array') return small && n === 1 ? 'a non-empty list' : `a list of ${cmp} ${n} items`;
  return `a number ${cmp} ${n}`;
}

/** How a found value is shown: `string "two"`, `number -1`, `a mapping`; secrets are never shown. */
export function describe(value: unknown, secret = false): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'a mapping';
  if (secret) return `a ${typeof value} (secret, not shown)`;
  if (typeof value === 'string') {
    return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  }
  return `${typeof value} ${String(value)}`;
}

function lookup(root: unknown, path: readonly PropertyKey[]): { present: boolean; value: unknown } {
  let node = root;
  for (const seg of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, seg))
      return { present: false, value: undefined };
    node = (node as Record<PropertyKey, unknown>)[seg];
  }
  return { present: node !== undefined, value: node };
}

/** ` (did you mean "replicas"?)` when a known key is a couple of edits away. */
function suggest(key: string, known: readonly string[] | undefined): string {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const k of known ?? []) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
