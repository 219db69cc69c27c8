import {
  chmodSync,
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  type Stats,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { InputError } from './errors.js';

/**
 * Baton's state is its owner's alone: the store's WAL holds secret values in clear, logs and records
 * name private addresses. Whatever existed before (a data dir made 0755 by hand, by an older Baton or
 * by a umask), directories are made 0700 and files 0600; a data dir owned by another user is refused,
 * not taken over. Creating files with these modes is each writer's job; this is the net under them.
 */
export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;
/** Group and other permission bits: none may be set under the data dir. */
const SHARED = 0o077;

const me = (): number | undefined => process.geteuid?.();

/** Why `dir` (owned by `uid`) is not this user's to use, or undefined when it is. */
export function ownerProblem(dir: string, uid = statSync(dir).uid): string | undefined {
  const mine = me();
  if (mine === undefined || uid === mine) return undefined;
  return `data dir ${dir} is owned by uid ${uid}, not by this user (uid ${mine}): Baton keeps secrets there and uses only a directory of its own`;
}

/** Creates `dir` (and its parents, 0700) if needed; refuses one that another user owns. */
function ownDir(dir: string): Stats {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  const st = statSync(dir);
  if (!st.isDirectory()) throw new InputError(`data dir ${dir} is not a directory`);
  const problem = ownerProblem(dir, st.uid);
  if (problem)
    throw new InputError(`${problem}; choose another with --data-dir / BATON_DATA_DIR, or chown it`, {
      dataDir: dir,
      owner: st.uid,
    });
  return st;
}

/** Creates `dir` if needed; makes it 0700 when it is wider; refuses another user's. */
export function ensurePrivateDir(dir: string): void {
  // stat, not lstat: a data dir given as a symlink is the directory it points to.
  if (ownDir(dir).mode & SHARED) chmodSync(dir, PRIVATE_DIR);
}

/** Creates an empty file 0600 if it does not exist (before a library opens it with its own mode). */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', PRIVATE_FILE));
  tighten(file);
}

/** Takes the group and other bits off one path if it exists (a symlink is left alone). */
export function tighten(path: string): boolean {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink() || !(st.mode & SHARED)) return false;
    chmodSync(path, st.isDirectory() ? PRIVATE_DIR : st.mode & 0o700);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

export interface LoosePath {
  path: string;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  dir: boolean;
}

/**
 * Every path under `root` (itself included) that its group or others may use. Symlinks under it are not
 * followed (what they point to is not Baton's); `root` itself may be one.
 */
export function loosePaths(root: string): LoosePath[] {
  const out: LoosePath[] = [];
  const walk = (path: string): void => {
    let st: Stats;
    try {
      st = path === root ? statSync(path) : lstatSync(path);
    } catch {
      return; // gone meanwhile (a temp file renamed)
    }
    if (st.isSymbolicLink()) return;
    if (st.mode & SHARED) out.push({ path, mode: st.mode & 0o777, dir: st.isDirectory() });
    if (!st.isDirectory()) return;
    let names: string[] = [];
    try {
      names = readdirSync(path);
    } catch {}
    for (const name of names) walk(join(path, name));
  };
  walk(root);
  return out;
}

/**
 * Makes `root` a private data dir: refused when another user owns it, else 0700 with everything under
 * it owner-only. Returns what it had to tighten (for a log line).
 */
export function securePrivateTree(root: string): string[] {
  ownDir(root);
  return loosePaths(root).flatMap((p) => {
    if (p.path === root) {
      chmodSync(root, PRIVATE_DIR);
      return [p.path];
    }
    return tighten(p.path) ? [p.path] : [];
  });
}
