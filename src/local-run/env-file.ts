import { readFileSync } from 'node:fs';
import { InputError } from '../core/errors.js';

/**
 * A `docker run --env-file`-style file: `KEY=VALUE` per line, `#` comments and blank lines ignored,
 * an optional `export `, and one pair of surrounding quotes removed. A malformed line is bad input
 * naming the file and the line (its value is never shown: env files hold secrets).
 */
export function readEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read the env file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new InputError(`${file}:${i + 1}: expected KEY=VALUE with KEY a variable name`);
    let v = m[2]!;
    if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.at(-1) === v[0]) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}
