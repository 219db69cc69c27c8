import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The dashboard's own files (copied next to the compiled code by `npm run build`). */
const OWN = fileURLToPath(new URL('./assets/', import.meta.url));

/**
 * Third-party files served under /ui/assets/vendor/: copied into dist at build (scripts/copy-ui.mjs),
 * read from node_modules when running from the sources (tests). Nothing is fetched from another origin.
 */
export const VENDOR: Record<string, [pkg: string, file: string]> = {
  'preact-htm.js': ['htm', 'preact/standalone.module.js'],
  'uplot.js': ['uplot', 'dist/uPlot.esm.js'],
  'uplot.css': ['uplot', 'dist/uPlot.min.css'],
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const require = createRequire(import.meta.url);

/** A package's folder from its entry point (their `exports` do not list these files). */
function pkgDir(name: string): string {
  let d = dirname(require.resolve(name));
  while (basename(d) !== name && dirname(d) !== d) d = dirname(d);
  return d;
}
const cache = new Map<string, { body: Buffer; type: string }>();

/** An asset by its name under /ui/assets/ (`app.js`, `vendor/uplot.js`), or undefined. */
export function asset(name: string): { body: Buffer; type: string } | undefined {
  const hit = cache.get(name);
  if (hit) return hit;
  let file: string | undefined;
  if (name.startsWith('vendor/')) {
    const v = name.slice(7);
    const spec = VENDOR[v];
    if (!spec) return undefined;
    const copied = join(OWN, 'vendor', v);
    file = existsSync(copied) ? copied : join(pkgDir(spec[0]), spec[1]);
  } else if (/^[a-z][a-z0-9-]*\.(html|js|css|svg)$/.test(name)) {
    file = join(OWN, name);
    if (!existsSync(file)) {
      // Running from dist without the copy step, or from src: the sources' folder.
      file = fileURLToPath(new URL(`../../src/dashboard/assets/${name}`, import.meta.url));
      if (!existsSync(file)) return undefined;
    }
  } else return undefined;
  const out = { body: readFileSync(file), type: TYPES[extname(file)] ?? 'application/octet-stream' };
  cache.set(name, out);
  return out;
}
