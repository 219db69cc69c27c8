#!/usr/bin/env node
// Benchmark: the canary judge on simulated traffic (no network, seeded, deterministic).
// Usage: npm run build && node bench/canary-analysis.mjs [--runs 1000] [--weight 0.1]
// For a 5% canary against a 0% stable at 10, 100 and 1,000 requests/s total, prints the user requests
// that reached the bad canary before the abort, the failed ones among them and the time to decide
// (mean, p50, p99 over the runs), plus the false-abort rate (healthy canaries at 0% and 1% errors) and
// the missed-abort rate (5% canaries promoted). The judge looks once per simulated second, as the engine.
import { parseArgs } from 'node:util';
import { ANALYSIS_DEFAULTS } from '../dist/analysis/config.js';
import { runScenario } from '../dist/analysis/summary.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    weight: { type: 'string', default: '0.1' },
  },
});
const RUNS = Number(args.runs);
const WEIGHT = Number(args.weight);
const RATES = [10, 100, 1000];
const latency = { medianMs: 20, sigma: 0.5 };
const rev = (errorRate) => ({ errorRate, latency });
// At 10 req/s a 10% canary gets 1 request/s: a healthy one needs several minutes to be promoted.
const DEADLINE_S = 3600;

const f = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
const spread = (s) => `${f(s.mean)} / ${f(s.p50)} / ${f(s.p99)}`;
const pct = (n) => `${((100 * n) / RUNS).toFixed(1)}%`;

const started = Date.now();
console.log(`canary judge, defaults ${JSON.stringify(ANALYSIS_DEFAULTS)}`);
console.log(`${RUNS} simulated runs per row, canary weight ${WEIGHT * 100}%, 5% canary vs 0% stable\n`);
console.log(
  'req/s total | canary req/s | requests to canary (mean/p50/p99) | failed (mean/p50/p99) | ' +
    'time to abort s (mean/p50/p99) | missed aborts | false aborts 0% / 1% | healthy promote s (p50, 1%)',
);
for (const rate of RATES) {
  const base = { rate, canaryWeight: WEIGHT, deadlineS: DEADLINE_S };
  const bad = runScenario({ ...base, stable: rev(0), canary: rev(0.05) }, RUNS);
  const ok0 = runScenario({ ...base, stable: rev(0), canary: rev(0) }, RUNS, 100_001);
  const ok1 = runScenario({ ...base, stable: rev(0.01), canary: rev(0.01) }, RUNS, 200_001);
  const undecided = bad.undecided + ok0.undecided + ok1.undecided;
  console.log(
    [
      String(rate).padStart(11),
      f(rate * WEIGHT).padStart(12),
      spread(bad.canaryRequests).padStart(33),
      spread(bad.canaryErrors).padStart(21),
      spread(bad.timeS).padStart(30),
      pct(bad.promoted).padStart(13),
      `${pct(ok0.aborted)} / ${pct(ok1.aborted)}`.padStart(20),
      `${f(ok1.timeS.p50)}${undecided ? ` (${undecided} undecided at ${DEADLINE_S} s)` : ''}`.padStart(26),
    ].join(' | '),
  );
}
console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
