// Summary of V8 CPU profiles (the .cpuprofile files `proxy-vs-field.mjs --profile DIR` writes): self time by
// function and by file, and with --total the time spent in each function and what it called. Several
// files (one per worker) are added up. Shares are of the sampled time that was not idle.
// These are wall-clock samples: a write system call that wakes another process on the same cores is
// charged with the time the kernel ran that process, so compare syscall shares with a perf or /proc
// figure before reading them as CPU.
// Usage: node bench/cpuprofile-summary.mjs [--n 40] [--total] FILE.cpuprofile...
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { n: { type: 'string', default: '40' }, total: { type: 'boolean', default: false } },
});
const N = Number(values.n);
const self = new Map();
const byFile = new Map();
const total = new Map();
let busy = 0;

const short = (url) => url.replace(/^.*\/(node_modules\/|dist\/)/, '$1');
const nameOf = (cf) => `${cf.functionName || '(anonymous)'} ${short(cf.url)}:${cf.lineNumber + 1}`;
const add = (m, k, t) => m.set(k, (m.get(k) ?? 0) + t);

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const sampled = new Map();
  for (let i = 0; i < p.samples.length; i++) add(sampled, p.samples[i], p.timeDeltas[i] ?? 0);
  for (const [id, t] of sampled) {
    const cf = nodes.get(id).callFrame;
    if (cf.functionName === '(idle)') continue;
    busy += t;
    add(self, nameOf(cf), t);
    add(byFile, cf.url ? short(cf.url) : cf.functionName, t);
    // Each function on the stack once (recursion counted once).
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) seen.add(nameOf(nodes.get(cur).callFrame));
    for (const k of seen) add(total, k, t);
  }
}

const print = (title, m, n) => {
  process.stdout.write(`\n${title} (${(busy / 1000).toFixed(0)} ms sampled, not idle)\n`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n))
    process.stdout.write(`${((100 * v) / busy).toFixed(1).padStart(5)} %  ${k}\n`);
};
print('self time by function', self, N);
print('self time by file', byFile, 25);
if (values.total) print('total time by function (itself and what it called)', total, N);
