// Process handling shared by the benches: free ports, what is installed, CPU time of process trees.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port the OS says is free on 127.0.0.1 now. */
export const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

export const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

/**
 * Makes sure each `[binary, debianPackage]` is there: as root with apt-get, missing packages are
 * installed; otherwise returns the missing ones (the caller says how to install them).
 */
export function ensureBinaries(pairs) {
  // A pair may name a file instead of a command (a header a build needs): present when it exists.
  const present = (bin) => (bin.startsWith('/') ? existsSync(bin) : has(bin));
  let missing = pairs.filter(([bin]) => !present(bin));
  if (missing.length > 0 && process.getuid?.() === 0 && has('apt-get')) {
    const pkgs = [...new Set(missing.map(([, p]) => p))];
    process.stderr.write(`bench: installing ${pkgs.join(' ')} (apt-get)\n`);
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    missing = missing.filter(([bin]) => !present(bin));
  }
  return missing;
}

export const installHint = (missing) =>
  `apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')}`;

const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** `pid` and all its descendants (from /proc/<pid>/task/<tid>/children). */
export function processTree(pid) {
  const out = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    if (!existsSync(`/proc/${p}`)) continue;
    out.push(p);
    for (const t of readdirSync(`/proc/${p}/task`)) {
      let kids = '';
      try {
        kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const k of kids.trim().split(/\s+/)) if (k) stack.push(Number(k));
    }
  }
  return out;
}

/** CPU seconds (user + system) used so far by these processes (gone ones count 0). */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / TICK;
}

/**
 * Waits until `probe()` resolves true (up to `ms`), failing early when `alive()` says the process died;
 * `what` names it (a function: called when failing, e.g. to read its stderr).
 */
export async function waitUntil(probe, alive, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive()) throw new Error(`${typeof what === 'function' ? what() : what} exited before it answered`);
    if (await probe().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${typeof what === 'function' ? what() : what} did not answer within ${ms} ms`);
}

/**
 * The run's cleanup: stops every proxy in `proxies` (as the array is when it runs), the backends, and
 * removes `dir`. Also run on an uncaught error, which then ends the bench with exit code 1.
 */
export function cleanupOf(proxies, backends, dir) {
  const cleanup = async () => {
    for (const p of proxies) await p.stop().catch(() => {});
    backends.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('uncaughtException', (e) => {
    process.stderr.write(`bench: ${e.stack ?? e}\n`);
    cleanup().finally(() => process.exit(1));
  });
  return cleanup;
}
