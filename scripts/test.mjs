#!/usr/bin/env node
// `npm test`: make sure Docker answers (starting it when we can), type-check, lint, then the whole suite
// (unit, contract, end-to-end). `npm run build` ran first (pretest): end-to-end tests drive the built CLI
// as a user would. Drivers' system services (dockerd, haproxy, nats-server) are installed here when missing.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const say = (s) => process.stdout.write(`npm test: ${s}\n`);
const loud = (s) => process.stderr.write(`\n${'!'.repeat(100)}\nnpm test: ${s}\n${'!'.repeat(100)}\n\n`);
const ok = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;
const has = (bin) => ok('sh', ['-c', `command -v ${bin}`]);

/** apt-get install of one package (apt-get update and again when the first try fails); true when done. */
function aptInstall(pkg, what) {
  say(`${what} is missing: apt-get install -y ${pkg}`);
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  if (install()) return true;
  say('install failed: apt-get update, then again');
  spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  return install();
}

/**
 * The docker runtime's tests need a running dockerd. Already answering: nothing to do (fast). Else, as
 * root with apt: install docker.io when dockerd is missing, start dockerd detached (its log in a temp
 * file) and wait until `docker info` answers (60 s). Otherwise warn loudly: the docker tests then skip
 * locally and fail under CI=true.
 */
async function ensureDocker() {
  if (has('docker') && ok('docker', ['info'])) return;
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get')) {
    loud(
      `Docker is not running and I cannot start it (${root ? 'no apt-get' : 'not root'}). Install docker.io and start dockerd; the docker tests will ${process.env.CI === 'true' ? 'FAIL (CI=true)' : 'be SKIPPED'}.`,
    );
    return;
  }
  if ((!has('dockerd') || !has('docker')) && !aptInstall('docker.io', 'dockerd')) {
    return loud('could not install docker.io: the docker tests will skip (or fail under CI=true)');
  }
  const log = join(tmpdir(), `dockerd-${Date.now()}.log`);
  const fd = openSync(log, 'a');
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', fd, fd] });
  child.unref();
  closeSync(fd);
  say(`started dockerd (pid ${child.pid}, log ${log}); waiting for it to answer`);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (ok('docker', ['info'])) return say('dockerd answers');
    await new Promise((r) => setTimeout(r, 500));
  }
  loud(`dockerd did not answer within 60 s (see ${log}): the docker tests will skip (or fail under CI=true)`);
}

await ensureDocker();

/**
 * The haproxy router's tests need /usr/sbin/haproxy (2.6+). Installed: nothing to do (fast). Else, as
 * root with apt: apt-get install -y haproxy (apt-get update and again if that fails), saying what it did.
 * Otherwise warn loudly: the haproxy tests then skip locally and fail under CI=true.
 */
function ensureHaproxy() {
  if (existsSync('/usr/sbin/haproxy')) {
    const v = /version (\d+)\.(\d+)/.exec(
      spawnSync('/usr/sbin/haproxy', ['-v'], { encoding: 'utf8' }).stdout ?? '',
    );
    if (!v || Number(v[1]) * 100 + Number(v[2]) < 206)
      loud(
        `/usr/sbin/haproxy is ${v ? `${v[1]}.${v[2]}` : 'of an unknown version'}, older than 2.6: the haproxy tests will ${process.env.CI === 'true' ? 'FAIL (CI=true)' : 'be SKIPPED'}; install HAProxy 2.6+.`,
      );
    return;
  }
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get'))
    return loud(
      `/usr/sbin/haproxy is missing and I cannot install it (${root ? 'no apt-get' : 'not root'}): install haproxy (2.6+); the haproxy tests will ${process.env.CI === 'true' ? 'FAIL (CI=true)' : 'be SKIPPED'}.`,
    );
  if (!aptInstall('haproxy', '/usr/sbin/haproxy')) {
    return loud('could not install haproxy: the haproxy tests will skip (or fail under CI=true)');
  }
  say(
    `installed haproxy (${spawnSync('/usr/sbin/haproxy', ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0]})`,
  );
}

ensureHaproxy();

/**
 * The NATS store and cluster tests need nats-server (2.9+, JetStream). Installed: nothing to do (fast).
 * Else, as root with apt: apt-get install -y nats-server (Debian puts it in /usr/sbin). Otherwise warn
 * loudly: the nats tests then skip locally and fail under CI=true.
 */
function ensureNats() {
  const bins = ['/usr/sbin/nats-server', '/usr/bin/nats-server'];
  if (bins.some((b) => existsSync(b))) return;
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get'))
    return loud(
      `nats-server is missing and I cannot install it (${root ? 'no apt-get' : 'not root'}): install nats-server (2.9+); the nats tests will ${process.env.CI === 'true' ? 'FAIL (CI=true)' : 'be SKIPPED'}.`,
    );
  if (!aptInstall('nats-server', 'nats-server')) {
    return loud('could not install nats-server: the nats tests will skip (or fail under CI=true)');
  }
  const bin = bins.find((b) => existsSync(b));
  say(
    `installed nats-server (${bin ? spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim() : 'not found after install'})`,
  );
}

ensureNats();

/**
 * The ACME tests need Debian's pebble package (/usr/bin/pebble and /usr/bin/pebble-challtestsrv): a
 * local ACME CA and its DNS stand-in. Installed: nothing to do. Else, as root with apt: apt-get install -y
 * pebble. Otherwise warn loudly: the ACME tests then skip locally and fail under CI=true.
 */
function ensurePebble() {
  const bins = ['/usr/bin/pebble', '/usr/bin/pebble-challtestsrv'];
  if (bins.every((b) => existsSync(b))) return;
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get'))
    return loud(
      `pebble is missing and I cannot install it (${root ? 'no apt-get' : 'not root'}): install Debian's pebble package; the ACME tests will ${process.env.CI === 'true' ? 'FAIL (CI=true)' : 'be SKIPPED'}.`,
    );
  if (!aptInstall('pebble', 'pebble')) {
    return loud('could not install pebble: the ACME tests will skip (or fail under CI=true)');
  }
  say('installed pebble (pebble + pebble-challtestsrv)');
}

ensurePebble();

/**
 * The TLS tests (HTTPS API, NATS with TLS) make a throwaway CA and certificates with openssl. Installed:
 * nothing to do. Else, as root with apt: apt-get install -y openssl; otherwise warn loudly.
 */
function ensureOpenssl() {
  if (has('openssl')) return;
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get'))
    return loud(
      `openssl is missing and I cannot install it (${root ? 'no apt-get' : 'not root'}): the TLS tests will fail.`,
    );
  if (!aptInstall('openssl', 'openssl')) loud('could not install openssl: the TLS tests will fail');
}

ensureOpenssl();

/**
 * The pipeline tests push images to a local registry: Debian's docker-registry (/usr/bin/docker-registry),
 * which each test starts itself on 127.0.0.1 with its own storage (the package's service is not used).
 * Installed: nothing to do. Else, as root with apt: apt-get install -y docker-registry. Otherwise warn
 * loudly: those tests then skip locally and fail under CI=true.
 */
function ensureRegistry() {
  if (existsSync('/usr/bin/docker-registry')) return;
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get'))
    return loud(
      `/usr/bin/docker-registry is missing and I cannot install it (${root ? 'no apt-get' : 'not root'}): install docker-registry; the pipeline tests will ${process.env.CI === 'true' ? 'FAIL (CI=true)' : 'be SKIPPED'}.`,
    );
  if (!aptInstall('docker-registry', '/usr/bin/docker-registry')) {
    return loud('could not install docker-registry: the pipeline tests will skip (or fail under CI=true)');
  }
  say('installed docker-registry');
}

ensureRegistry();

/**
 * The dashboard's browser test drives Debian's chromium (/usr/bin/chromium) with playwright-core: no
 * browser is downloaded. Installed: nothing to do. Else, as root with apt: apt-get install -y chromium.
 * Otherwise warn loudly: the browser test then skips locally and fails under CI=true.
 */
function ensureChromium() {
  if (existsSync('/usr/bin/chromium')) return;
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get'))
    return loud(
      `/usr/bin/chromium is missing and I cannot install it (${root ? 'no apt-get' : 'not root'}): install chromium; the dashboard browser test will ${process.env.CI === 'true' ? 'FAIL (CI=true)' : 'be SKIPPED'}.`,
    );
  if (!aptInstall('chromium', '/usr/bin/chromium')) {
    return loud('could not install chromium: the dashboard browser test will skip (or fail under CI=true)');
  }
  say(
    `installed chromium (${spawnSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).stdout.trim()})`,
  );
}

ensureChromium();

/**
 * The metrics tests check every /metrics answer with promtool (`promtool check metrics`), from Debian's
 * prometheus package (the server is not run). Installed: nothing to do. Else, as root with apt:
 * apt-get install -y prometheus. Otherwise warn loudly: those tests then skip locally and fail under CI=true.
 */
function ensurePromtool() {
  if (has('promtool')) return;
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get'))
    return loud(
      `promtool is missing and I cannot install it (${root ? 'no apt-get' : 'not root'}): install prometheus; the metrics tests will ${process.env.CI === 'true' ? 'FAIL (CI=true)' : 'be SKIPPED'}.`,
    );
  if (!aptInstall('prometheus', 'promtool')) {
    return loud(
      'could not install prometheus (promtool): the metrics tests will skip (or fail under CI=true)',
    );
  }
  say('installed prometheus (promtool)');
}

ensurePromtool();

// The suite must stay within its time budget (~25 min on 2 cores): the JSON report gives each file's
// duration, and the slowest are printed last, where a CI log's tail shows them.
const REPORT = 'test-artifacts/vitest.json';
const steps = [
  ['tsc', ['-p', 'tsconfig.json', '--noEmit']],
  ['biome', ['check', '.']],
  [
    'vitest',
    ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${REPORT}`, ...process.argv.slice(2)],
  ],
];
for (const [bin, args] of steps) {
  process.stdout.write(`\n> ${bin} ${args.join(' ')}\n`);
  const r = spawnSync('npx', ['--no-install', bin, ...args], { stdio: 'inherit' });
  if (bin === 'vitest') printSlowest();
  if (r.status !== 0) {
    process.stderr.write(`\nnpm test: ${bin} failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
}

function printSlowest() {
  let report;
  try {
    report = JSON.parse(readFileSync(REPORT, 'utf8'));
  } catch {
    return;
  }
  const files = report.testResults
    .map((f) => ({ name: relative(process.cwd(), f.name), s: (f.endTime - f.startTime) / 1000 }))
    .sort((a, b) => b.s - a.s);
  const total = files.reduce((n, f) => n + f.s, 0);
  process.stdout.write(
    `\nslowest test files (of ${files.length}, ${Math.round(total)} s in all; the budget is ~25 min of wall time on 2 cores):\n`,
  );
  for (const f of files.slice(0, 15)) process.stdout.write(`${f.s.toFixed(1).padStart(8)} s  ${f.name}\n`);
}
