#!/usr/bin/env node
// `npm test`: type-check, lint, then the whole suite (unit, contract, end-to-end). `npm run build` ran
// first (pretest): end-to-end tests drive the built CLI as a user would.
// Later drivers (docker, haproxy, nats) add their system services here, installed when missing.
import { spawnSync } from 'node:child_process';

const steps = [
  ['tsc', ['-p', 'tsconfig.json', '--noEmit']],
  ['biome', ['check', '.']],
  ['vitest', ['run', ...process.argv.slice(2)]],
];
for (const [bin, args] of steps) {
  process.stdout.write(`\n> ${bin} ${args.join(' ')}\n`);
  const r = spawnSync('npx', ['--no-install', bin, ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`\nnpm test: ${bin} failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
}
