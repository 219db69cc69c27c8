import { parseDocument } from 'yaml';
import type { SpecIssue } from '../core/errors.js';
import { dotted } from './positions.js';

/** One `--set KEY=VALUE`: a dotted path and the YAML scalar (or flow collection) it parsed to. */
export interface Override {
  path: string[];
  value: unknown;
}

/** Where issues about `--set` point. */
export const SET_POS = { file: '--set', line: 1, column: 1 } as const;

const issue = (path: string, message: string): SpecIssue => ({ ...SET_POS, path, message });

/** Parses `--set` arguments; malformed ones become issues. */
export function parseOverrides(args: readonly string[]): { overrides: Override[]; issues: SpecIssue[] } {
  const overrides: Override[] = [];
  const issues: SpecIssue[] = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const path = eq < 0 ? [] : arg.slice(0, eq).trim().split('.');
    if (eq < 0 || path.some((seg) => seg === '')) {
      issues.push(
        issue('', `expected KEY=VALUE such as services.web.replicas=3, found ${JSON.stringify(arg)}`),
      );
      continue;
    }
    const raw = arg.slice(eq + 1);
    if (raw.trim() === '') {
      overrides.push({ path, value: '' });
      continue;
    }
    const doc = parseDocument(raw, { prettyErrors: false, uniqueKeys: true });
    const problem =
      doc.errors[0]?.message ?? (doc.warnings.length > 0 ? 'tags are not allowed here' : undefined);
    if (problem)
      issues.push(issue(dotted(path), `cannot parse the value ${JSON.stringify(raw)}: ${problem}`));
    else overrides.push({ path, value: doc.toJS() });
  }
  return { overrides, issues };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Puts `o.value` at `o.path` inside `root`, creating mappings on the way. Returns the new root and the
 * paths it created (for positions), or an error message when a scalar is in the way.
 */
export function applyOverride(root: unknown, o: Override): { root: unknown; created: string[][] } | string {
  const top = root === null || root === undefined ? {} : root;
  const created: string[][] = [];
  let node: unknown = top;
  for (const [i, seg] of o.path.entries()) {
    const last = i === o.path.length - 1;
    if (Array.isArray(node)) {
      const idx = Number(seg);
      if (!Number.isInteger(idx) || idx < 0 || idx > node.length) {
        return `cannot set ${dotted(o.path)}: ${dotted(o.path.slice(0, i)) || 'the file'} is a list of ${node.length} items`;
      }
      if (last) node[idx] = o.value;
      else if (node[idx] === undefined || node[idx] === null) {
        node[idx] = {};
        created.push(o.path.slice(0, i + 1));
      }
      node = node[idx];
    } else if (isRecord(node)) {
      if (last) define(node, seg, o.value);
      else if (node[seg] === undefined || node[seg] === null) {
        define(node, seg, {});
        created.push(o.path.slice(0, i + 1));
      }
      node = node[seg];
    } else {
      return `cannot set ${dotted(o.path)}: ${dotted(o.path.slice(0, i)) || 'the file'} is not a mapping`;
    }
  }
  return { root: top, created };
}

function define(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
