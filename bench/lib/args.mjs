// Command-line options of a bench script, whose usage is the comment block at the top of its file.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The comment block that opens the script at `url`, without its `//`. */
export function usageOf(url) {
  return readFileSync(fileURLToPath(url), 'utf8')
    .split('\n')
    .slice(1)
    .filter((_l, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('//')))
    .map((l) => l.replace(/^\/\/ ?/, ''))
    .join('\n');
}

/**
 * Parses the script's `options` (with --help/-h): on --help prints the usage and exits 0; on an unknown or
 * malformed option prints what was wrong and the usage, and exits 2.
 */
export function benchArgs(url, name, options) {
  let parsed;
  try {
    parsed = parseArgs({ options: { help: { type: 'boolean', short: 'h', default: false }, ...options } });
  } catch (e) {
    process.stderr.write(`${name}: ${e.message}\n\n${usageOf(url)}\n`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(`${usageOf(url)}\n`);
    process.exit(0);
  }
  return parsed.values;
}
