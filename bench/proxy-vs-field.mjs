#!/usr/bin/env node
// Benchmark of the field: Baton's embedded proxy, HAProxy, nginx and Caddy in front of the same two
// keep-alive Node backends, with the same number of cores each, in one run, rows and rounds alternating
// (the order of the proxies rotates every round, so machine noise falls on all of them alike).
// Rows (wrk -t1 -cN for N seconds unless said): small responses, 64 KiB responses, a new connection per
// request (`Connection: close`), TLS full handshakes (a new TLS connection per request: wrk resumes no
// session), keep-alive requests over TLS, HTTP/2 over TLS (h2load; skipped for a proxy that does not offer
// h2 in ALPN). Columns: requests/s, p99 at saturation, CPU per request (user + system time of the proxy's
// whole process tree, from /proc: little affected by other load on the machine), and the p99 each proxy
// adds at a fixed rate, plain and over TLS (C generator with OpenSSL, each proxy beside the backend directly
// at the same instants). Ratios are against HAProxy in the same run.
// Every row first runs `--warmup` seconds on every proxy, not counted: Baton runs on a JIT compiler, and
// its TLS handshake path needs about 10 s of traffic to reach steady state (448 → ~1,300 handshakes/s in
// the first 10 one-second windows, BENCHMARKS.md), which a proxy serving for days has long passed.
// `--pin` gives the proxies the last `--cores` CPUs and wrk, h2load, the generator and the backends the
// others (taskset), so the load tool and the backends do not take the proxy's cores (and vice versa).
// With --pin each added-p99 round also prints the machine's own stalls on the proxy CPUs (stall-probe.c).
// Needs: `npm run build`, wrk, haproxy, gcc, openssl, OpenSSL's headers (libssl-dev); nginx (nginx-light), caddy, h2load (nghttp2-client)
// are optional (installed with apt-get when run as root, else skipped with the command to install them).
// Usage: node bench/proxy-vs-field.mjs [--seconds 5] [--rounds 3] [--connections 32] [--cores N] [--pin]
//        [--warmup 10] [--rate 1000] [--rate-seconds 10] [--rows small,64k,newconn,tls-handshake,tls-keepalive,h2]
//        [--only baton,haproxy,nginx,caddy] [--haproxy-reuse safe|always|never]
//        [--profile DIR]  (Baton's primary and workers run with --cpu-prof, profiles written to DIR)
//        [--baseline DIST]  (another build's dist/ directory, measured beside this one as baton-base:
//        an A/B of a change in the same run)
//        [--node-flags='--max-semi-space-size=16 ...']  (node flags of this build's Baton only: with
//        --baseline, an A/B of the flags in the same run)
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { benchArgs } from './lib/args.mjs';
import { startBackends } from './lib/backends.mjs';
import { selfSigned } from './lib/certs.mjs';
import { cleanupOf, cpuSeconds, ensureBinaries, installHint } from './lib/procs.mjs';
import { startBaton, startCaddy, startHaproxy, startNginx } from './lib/proxies.mjs';

const args = benchArgs(import.meta.url, 'bench', {
  seconds: { type: 'string', default: '5' },
  rounds: { type: 'string', default: '3' },
  connections: { type: 'string', default: '32' },
  cores: { type: 'string', default: String(availableParallelism()) },
  warmup: { type: 'string', default: '10' },
  pin: { type: 'boolean', default: false },
  rate: { type: 'string', default: '1000' },
  'rate-seconds': { type: 'string', default: '10' },
  rows: { type: 'string', default: 'small,64k,newconn,tls-handshake,tls-keepalive,h2' },
  only: { type: 'string', default: 'baton,haproxy,nginx,caddy' },
  'haproxy-reuse': { type: 'string', default: 'safe' },
  profile: { type: 'string' },
  baseline: { type: 'string' },
  'node-flags': { type: 'string' },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const CORES = Number(args.cores);
const WARMUP = Number(args.warmup);
const RATE = Number(args.rate);
const RATE_SECONDS = Number(args['rate-seconds']);
const ROWS = args.rows.split(',');
const HOST = 'bench.test';

const required = ensureBinaries([
  ['wrk', 'wrk'],
  ['haproxy', 'haproxy'],
  ['gcc', 'gcc'],
  ['openssl', 'openssl'],
  ['/usr/include/openssl/ssl.h', 'libssl-dev'],
]);
if (required.length > 0) {
  process.stderr.write(`bench: missing ${required.map(([b]) => b).join(', ')} (${installHint(required)})\n`);
  process.exit(2);
}
const wanted = new Set(args.only.split(','));
const optional = ensureBinaries(
  [
    ['nginx', 'nginx-light'],
    ['caddy', 'caddy'],
    ['h2load', 'nghttp2-client'],
  ].filter(([bin]) => bin === 'h2load' || wanted.has(bin)),
);
const notes = [];
for (const [bin, pkg] of optional) {
  notes.push(
    `${bin} not installed: its ${bin === 'h2load' ? 'row is' : 'column is'} skipped (apt-get install ${pkg})`,
  );
  wanted.delete(bin);
}
const H2LOAD = !optional.some(([b]) => b === 'h2load');

const dir = mkdtempSync(join(tmpdir(), 'baton-bench-field-'));
/** Builds one of the bench's C helpers into the run's directory. */
const build = (name, libs = []) => {
  const bin = join(dir, name);
  const src = fileURLToPath(new URL(`./${name}.c`, import.meta.url));
  const cc = spawnSync('gcc', ['-O2', '-o', bin, src, ...libs], { encoding: 'utf8' });
  if (cc.status !== 0) {
    process.stderr.write(`bench: gcc could not build bench/${name}.c:\n${cc.stderr}\n`);
    process.exit(2);
  }
  return bin;
};
const fixedRateBin = build('fixed-rate', ['-lssl', '-lcrypto']);
const stallProbeBin = build('stall-probe');
const execFileAsync = promisify(execFile);
const PROBE_SECONDS = 5;

// --pin: the proxies on the last CORES CPUs, everything else on the others.
const CPUS = availableParallelism();
if (args.pin && CPUS <= CORES) {
  process.stderr.write(`bench: --pin needs more CPUs than --cores (${CPUS} CPUs, --cores ${CORES})\n`);
  process.exit(2);
}
const proxyCpus = `${CPUS - CORES}-${CPUS - 1}`;
const loadCpus = `0-${CPUS - CORES - 1}`;
/** Pins these processes (every thread) to `cpus`; their future children inherit it. */
const pinAll = (pids, cpus) => {
  for (const pid of pids) spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
};
/** Runs a load tool, on the load CPUs with --pin. */
const load = (cmd, argv) =>
  spawnSync(args.pin ? 'taskset' : cmd, args.pin ? ['-c', loadCpus, cmd, ...argv] : argv, {
    encoding: 'utf8',
  });

const certs = selfSigned(dir, 'bench', [HOST], { combined: true });
const backends = await startBackends();
const ports = backends.ports;
const proxies = [];
const cleanup = cleanupOf(proxies, backends, dir);

let execArgv;
if (args.profile) {
  const out = resolve(args.profile);
  mkdirSync(out, { recursive: true });
  execArgv = ['--cpu-prof', `--cpu-prof-dir=${out}`];
}
if (args['node-flags']) execArgv = [...(execArgv ?? []), ...args['node-flags'].split(/\s+/).filter(Boolean)];
const common = { dir, ports, cores: CORES, certs, host: HOST };
const starters = {
  baton: () => startBaton({ ...common, execArgv }),
  haproxy: () => startHaproxy({ ...common, reuse: args['haproxy-reuse'] }),
  nginx: () => startNginx(common),
  caddy: () => startCaddy(common),
};
for (const name of ['baton', 'haproxy', 'nginx', 'caddy'])
  if (wanted.has(name)) proxies.push(await starters[name]());
if (args.baseline)
  proxies.push(await startBaton({ ...common, dist: resolve(args.baseline), name: 'baton-base' }));
if (args.pin) {
  pinAll([backends.child.pid], loadCpus);
  for (const p of proxies) pinAll(p.pids(), proxyCpus);
}

/** Does the proxy's TLS listener offer h2 in ALPN? */
const offersH2 = (port) =>
  new Promise((res) => {
    const s = connect(
      {
        port,
        host: '127.0.0.1',
        servername: HOST,
        ALPNProtocols: ['h2', 'http/1.1'],
        rejectUnauthorized: false,
      },
      () => {
        res(s.alpnProtocol === 'h2');
        s.destroy();
      },
    );
    s.on('error', () => res(false));
  });
const h2 = new Map();
for (const p of proxies) h2.set(p.name, await offersH2(p.tls));

/**
 * Does this listener proxy? The backends' 64 KiB answer, whole, with the Host the load tools send: a proxy
 * that answers by itself (a Host it does not serve, an error page) would be measured as fast.
 */
const proxies64k = (port, tls) =>
  new Promise((res) => {
    const get = tls ? httpsGet : httpGet;
    const req = get(
      {
        host: '127.0.0.1',
        port,
        path: '/64k',
        headers: { host: HOST },
        servername: HOST,
        rejectUnauthorized: false,
      },
      (r) => {
        let n = 0;
        r.on('data', (c) => {
          n += c.length;
        });
        r.on('end', () =>
          res(r.statusCode === 200 && n === 65536 ? '' : `status ${r.statusCode}, ${n} bytes`),
        );
      },
    );
    req.on('error', (e) => res(e.message));
  });
for (const p of proxies)
  for (const tls of [false, true]) {
    const wrong = await proxies64k(tls ? p.tls : p.plain, tls);
    if (wrong) {
      process.stderr.write(
        `bench: ${p.name}'s ${tls ? 'TLS' : 'plain'} listener does not proxy /64k: ${wrong}\n`,
      );
      await cleanup();
      process.exit(1);
    }
  }

const ms = (text, label) => {
  const m = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(text);
  return m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : Number.NaN;
};

/** One measurement: the load tool on `proxy` for a row; requests/s, p99, CPU per request. */
function measure(proxy, row, seconds = SECONDS) {
  const tls = row.startsWith('tls') || row === 'h2';
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${tls ? proxy.tls : proxy.plain}${row === '64k' ? '/64k' : '/'}`;
  const pids = proxy.pids();
  const cpu0 = cpuSeconds(pids);
  let rps;
  let p99;
  let total;
  let errors;
  if (row === 'h2') {
    const r = load('h2load', [
      '-c',
      String(CONNECTIONS),
      '-m',
      '10',
      '-t',
      '1',
      '-D',
      String(seconds),
      '-H',
      `:authority: ${HOST}`,
      url,
    ]);
    rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(r.stdout)?.[1]);
    total = Number(/requests: \d+ total, \d+ started, (\d+) done/.exec(r.stdout)?.[1]);
    errors = Number(/(\d+) failed/.exec(r.stdout)?.[1] ?? Number.NaN);
    p99 = Number.NaN; // h2load gives min/max/mean/sd of request times, no percentiles
  } else {
    const close = row === 'newconn' || row === 'tls-handshake';
    const r = load('wrk', [
      '-t1',
      `-c${CONNECTIONS}`,
      `-d${seconds}s`,
      '--latency',
      '-H',
      `Host: ${HOST}`,
      ...(close ? ['-H', 'Connection: close'] : []),
      url,
    ]);
    rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
    total = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
    p99 = ms(r.stdout, ' 99');
    errors =
      Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0) +
      [...(/Socket errors: (.*)/.exec(r.stdout)?.[1] ?? '').matchAll(/(?:connect|read|write|timeout) (\d+)/g)]
        .filter((m) => !m[0].startsWith('read')) // wrk counts a server's close after `Connection: close` as a read error
        .reduce((a, m) => a + Number(m[1]), 0);
  }
  const cpu = cpuSeconds(proxy.pids()) - cpu0;
  return { rps, p99, errors, cpuUs: (cpu * 1e6) / total, cores: cpu / seconds };
}

// Warm-up: every row on every proxy (JIT, connection pools, TLS contexts), not counted.
for (const row of ROWS)
  for (const p of proxies)
    if (WARMUP > 0 && (row !== 'h2' || (H2LOAD && h2.get(p.name)))) measure(p, row, WARMUP);

const results = {};
for (const row of ROWS) {
  results[row] = {};
  for (const p of proxies) results[row][p.name] = [];
}
for (let round = 0; round < ROUNDS; round++) {
  const order = proxies.map((_, i) => proxies[(i + round) % proxies.length]);
  for (const row of ROWS)
    for (const p of order) {
      if (row === 'h2' && (!H2LOAD || !h2.get(p.name))) continue;
      results[row][p.name].push(measure(p, row));
    }
}

// Fixed rate: the backend directly and one proxy's plain listener at the same instants, then the same over
// its TLS listener (keep-alive; the generator's handshakes come before it measures); the proxies one after
// the other, in rotating order, so none takes CPU from another (with --pin they share the proxy CPUs).
// Added p99 = p99 through the proxy − p99 direct in the same run, median over rounds.
// With --pin, every round first measures the machine's own stalls on the (idle) proxy CPUs: a busy C loop
// per CPU (stall-probe.c), so the reader sees how much of a millisecond-sized tail the machine takes itself.
const added = { plain: {}, tls: {} };
const stalls = [];
const proxyCpuList = Array.from({ length: CORES }, (_, k) => CPUS - CORES + k);
for (const kind of ['plain', 'tls']) for (const p of proxies) added[kind][p.name] = [];
for (let i = 0; i < (RATE > 0 ? ROUNDS : 0); i++) {
  if (args.pin) stalls.push(...(await probeStalls(proxyCpuList)));
  for (const p of proxies.map((_, k) => proxies[(k + i) % proxies.length]))
    for (const kind of ['plain', 'tls']) {
      const targets = [ports[i % 2], kind === 'tls' ? `tls:${p.tls}` : p.plain];
      const r = load(fixedRateBin, [
        '127.0.0.1',
        targets.join(','),
        String(RATE),
        String(RATE_SECONDS),
        '8',
        '1',
        '/',
        HOST,
      ]);
      const lines = r.stdout.trim().split('\n');
      if (r.status !== 0 || lines.length !== targets.length)
        throw new Error(`fixed-rate failed: ${r.stdout}${r.stderr}`);
      const [direct, through] = lines.map((l) => Number(/p99_us=(-?\d+)/.exec(l)?.[1]) / 1000);
      added[kind][p.name].push({ ms: through - direct, errors: Number(/errors=(\d+)/.exec(lines[1])?.[1]) });
    }
}

/** Runs the stall probe on each CPU at once for PROBE_SECONDS (stalls of 0.3 ms or more). */
function probeStalls(cpus) {
  return Promise.all(
    cpus.map(async (cpu) => {
      const { stdout } = await execFileAsync('taskset', [
        '-c',
        String(cpu),
        stallProbeBin,
        String(PROBE_SECONDS),
        '300',
      ]);
      const m = /per_s=([\d.]+) stalled_us=(\d+) max_us=(\d+)/.exec(stdout);
      if (!m) throw new Error(`stall-probe printed: ${stdout}`);
      return { cpu, perS: Number(m[1]), stalledUs: Number(m[2]), maxUs: Number(m[3]) };
    }),
  );
}

const mean = (xs, k) => xs.reduce((a, x) => a + x[k], 0) / xs.length;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '–');
const LABEL = {
  small: 'small responses (3 B), keep-alive',
  '64k': '64 KiB responses, keep-alive',
  newconn: 'a new connection per request',
  'tls-handshake': 'TLS full handshakes (new TLS connection per request)',
  'tls-keepalive': 'keep-alive requests over TLS',
  h2: `HTTP/2 over TLS (h2load -c${CONNECTIONS} -m10)`,
};
const out = [
  `${ROUNDS} alternating rounds of ${SECONDS} s after ${WARMUP} s of warm-up per row and proxy, wrk -t1 -c${CONNECTIONS}, ${CORES} cores for each proxy${args.pin ? ` (pinned to CPUs ${proxyCpus}; load tools and backends on ${loadCpus})` : ''} (baton workers, haproxy nbthread [http-reuse ${args['haproxy-reuse']}], nginx worker_processes, caddy GOMAXPROCS), 2 keep-alive Node backends; ${process.arch}, ${availableParallelism()} CPUs, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
  ...notes,
];
const hap = (row, k) => (results[row].haproxy?.length ? mean(results[row].haproxy, k) : Number.NaN);
for (const row of ROWS) {
  out.push(`${LABEL[row] ?? row}:`);
  for (const p of proxies) {
    const xs = results[row][p.name];
    if (xs.length === 0) {
      out.push(
        `  ${p.name.padEnd(8)} skipped: ${!H2LOAD ? 'h2load not installed (apt-get install nghttp2-client)' : 'does not offer h2 in ALPN'}`,
      );
      continue;
    }
    const rps = mean(xs, 'rps');
    const p99 = mean(xs, 'p99');
    const cpu = mean(xs, 'cpuUs');
    out.push(
      `  ${p.name.padEnd(8)} ${rps.toFixed(0).padStart(7)} req/s (${(rps / hap(row, 'rps')).toFixed(2)}x), p99 ${f(p99)} ms (${f(p99 / hap(row, 'p99'))}x), CPU ${f(cpu, 1)} µs/req (${f(cpu / hap(row, 'cpuUs'))}x, ${f(mean(xs, 'cores'))} cores), errors ${xs.reduce((a, x) => a + x.errors, 0)}; per round ${xs.map((x) => x.rps.toFixed(0)).join(' / ')} req/s, ${xs.map((x) => x.cpuUs.toFixed(0)).join(' / ')} µs/req`,
    );
  }
}
if (RATE > 0)
  for (const kind of ['plain', 'tls']) {
    out.push(
      `added p99 at ${RATE} req/s ${kind === 'tls' ? 'over TLS' : 'plain'} (C generator, 8 keep-alive connections per target, ${RATE_SECONDS} s; median of ${ROUNDS} rounds):`,
    );
    for (const p of proxies) {
      const xs = added[kind][p.name];
      out.push(
        `  ${p.name.padEnd(8)} ${f(median(xs.map((x) => x.ms)))} ms (per round ${xs.map((x) => f(x.ms)).join(' / ')}), errors ${xs.reduce((a, x) => a + x.errors, 0)}`,
      );
    }
  }
if (stalls.length > 0) {
  const worst = Math.max(...stalls.map((x) => x.maxUs)) / 1000;
  out.push(
    `the machine's own stalls on the proxy CPUs (busy C loop pinned to each, idle otherwise, ${PROBE_SECONDS} s before each round; gaps of 0.3 ms or more): ${stalls.map((x) => `${x.perS.toFixed(1)}/s`).join(' ')}, stalled ${f(mean(stalls, 'stalledUs') / (PROBE_SECONDS * 1000), 2)} ‰ of the time on average, longest ${f(worst)} ms — an added p99 of the same order is the machine's, not the proxy's`,
  );
}
for (const l of out) process.stdout.write(`${l}\n`);
await cleanup();
if (args.profile) process.stdout.write(`CPU profiles of the baton proxy: ${resolve(args.profile)}\n`);
