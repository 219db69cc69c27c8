// Copies the dashboard's files and the few third-party browser files it uses into dist/, so the
// package serves /ui with no network and no node_modules lookup (src/dashboard/assets.ts).
import { copyFileSync, cpSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const out = join(root, 'dist', 'dashboard', 'assets');
const VENDOR = {
  'preact-htm.js': ['htm', 'preact/standalone.module.js'],
  'uplot.js': ['uplot', 'dist/uPlot.esm.js'],
  'uplot.css': ['uplot', 'dist/uPlot.min.css'],
};
cpSync(join(root, 'src', 'dashboard', 'assets'), out, { recursive: true });
mkdirSync(join(out, 'vendor'), { recursive: true });
// A package's folder from its entry point (their `exports` do not list these files).
const pkgDir = (name) => {
  let d = dirname(require.resolve(name));
  while (basename(d) !== name) d = dirname(d);
  return d;
};
for (const [name, [pkg, file]] of Object.entries(VENDOR))
  copyFileSync(join(pkgDir(pkg), file), join(out, 'vendor', name));
// Their licenses travel with them. (htm's standalone build also bundles Preact, which is MIT licensed.)
for (const pkg of ['htm', 'uplot'])
  copyFileSync(join(pkgDir(pkg), 'LICENSE'), join(out, 'vendor', `${pkg}.LICENSE`));
