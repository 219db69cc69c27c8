/** A place in a source: a YAML file, or `--set` for command-line overrides. 1-based. */
export interface Pos {
  file: string;
  line: number;
  column: number;
}

interface Entry {
  /** Where the value starts (for a tagged value: where its tag starts). */
  value: Pos;
  /** Where the mapping key naming this value is, when it has one. */
  key?: Pos;
}

const SEP = '\u0000';
const join = (path: readonly PropertyKey[]): string => path.map(String).join(SEP);

/** Dotted path for messages and `secretPaths`: `services.web.probe.interval`. */
export const dotted = (path: readonly PropertyKey[]): string => path.map(String).join('.');

/**
 * Where each value of the resolved spec came from, by path. Paths are the ones zod reports, so an issue
 * finds its node even when the value came from another file through `!include`.
 */
export class PositionMap {
  private readonly entries = new Map<string, Entry>();

  /** Records where the value at `path` is; a known key position is kept unless a new one is given. */
  set(path: readonly PropertyKey[], value: Pos, key?: Pos): void {
    const k = join(path);
    const known = key ?? this.entries.get(k)?.key;
    this.entries.set(k, known ? { value, key: known } : { value });
  }

  has(path: readonly PropertyKey[]): boolean {
    return this.entries.has(join(path));
  }

  /** The value's position, or that of its nearest recorded ancestor. */
  value(path: readonly PropertyKey[]): Pos {
    for (let n = path.length; n >= 0; n--) {
      const e = this.entries.get(join(path.slice(0, n)));
      if (e) return e.value;
    }
    return { file: '', line: 1, column: 1 };
  }

  /** The key's position (falls back to the value's). */
  key(path: readonly PropertyKey[]): Pos {
    return this.entries.get(join(path))?.key ?? this.value(path);
  }

  /** Forgets `path` and everything under it (a `--set` replaced it). */
  deleteUnder(path: readonly PropertyKey[]): void {
    const prefix = join(path);
    for (const k of [...this.entries.keys()]) {
      if (k === prefix || k.startsWith(prefix + SEP)) this.entries.delete(k);
    }
  }
}

/** Whether `path` equals `prefix` or lies under it. */
export function isUnder(path: readonly PropertyKey[], prefix: readonly PropertyKey[]): boolean {
  return prefix.length <= path.length && prefix.every((seg, i) => String(seg) === String(path[i]));
}
