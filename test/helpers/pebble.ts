import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { freeLocalPort } from '../../src/local-run/free-port.js';
import { makePki } from './tls.js';
import { waitFor } from './wait.js';

export const PEBBLE_BIN = '/usr/bin/pebble';
export const CHALLTESTSRV_BIN = '/usr/bin/pebble-challtestsrv';

let available: boolean | undefined;

/**
 * Whether Debian's `pebble` package (pebble + pebble-challtestsrv) is installed. Missing: under CI=true
 * this throws so the suite FAILS; locally it warns loudly and the caller skips. `npm test` installs it
 * first when it can (scripts/test.mjs ensurePebble).
 */
export function requirePebble(): boolean {
  if (available !== undefined) return available;
  available = existsSync(PEBBLE_BIN) && existsSync(CHALLTESTSRV_BIN);
  if (available) return true;
  const message = `${PEBBLE_BIN} or ${CHALLTESTSRV_BIN} is missing: the ACME tests need Debian's pebble package (apt-get install -y pebble).`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: failing instead of skipping)`);
  console.warn(`\n${'!'.repeat(100)}\nSKIPPING ACME TESTS: ${message}\n${'!'.repeat(100)}\n`);
  return false;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface Pebble {
  /** The ACME directory URL (HTTPS, served with a throwaway cert signed by `caFile`). */
  directory: string;
  /** PEM file of the CA that signed Pebble's own HTTPS certificate (`--acme-ca-file`). */
  caFile: string;
  /** Pebble's issuing root (PEM), fetched from its management endpoint: what TLS clients trust. */
  root(): Promise<string>;
  stop(): Promise<void>;
}

function spawnLogged(bin: string, args: string[], env: NodeJS.ProcessEnv, log: string[]): ChildProcess {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [child.stdout, child.stderr]) s?.on('data', (b: Buffer) => log.push(b.toString()));
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await gone;
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: new Agent({ ca }), timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts pebble-challtestsrv as the DNS server (every name resolves to 127.0.0.1, no AAAA) and Pebble
 * validating HTTP-01 on `httpPort` (the responder's port) — all on 127.0.0.1, OS-chosen ports.
 * `validitySec` makes short-lived certificates (renewal tests).
 */
export async function startPebble(
  dir: string,
  httpPort: number,
  opts: { validitySec?: number } = {},
): Promise<Pebble> {
  const pki = makePki(dir);
  const [dns, mgmt, listen, pmgmt] = [
    await freeUdpPort(),
    await freeLocalPort(),
    await freeLocalPort(),
    await freeLocalPort(),
  ];
  const log: string[] = [];
  const dnsSrv = spawnLogged(
    CHALLTESTSRV_BIN,
    [
      '-dns01',
      `127.0.0.1:${dns}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${mgmt}`,
      '-defaultIPv6',
      '',
      '-defaultIPv4',
      '127.0.0.1',
    ],
    {},
    log,
  );
  const config = join(dir, 'pebble.json');
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listen}`,
        managementListenAddress: `127.0.0.1:${pmgmt}`,
        certificate: pki.cert,
        privateKey: pki.key,
        httpPort,
        tlsPort: 5001,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(opts.validitySec ? { certificateValidityPeriod: opts.validitySec } : {}),
      },
    }),
  );
  const pebble = spawnLogged(
    PEBBLE_BIN,
    ['-config', config, '-dnsserver', `127.0.0.1:${dns}`],
    { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    log,
  );
  const ca = readFileSync(pki.ca, 'utf8');
  const directory = `https://127.0.0.1:${listen}/dir`;
  const stop = async () => {
    await Promise.all([stopChild(pebble), stopChild(dnsSrv)]);
  };
  try {
    await waitFor(
      async () => {
        if (pebble.exitCode !== null) throw new Error(`pebble exited: ${log.join('')}`);
        return (await httpsGet(directory, ca).catch(() => ({ status: 0 }))).status === 200;
      },
      { timeoutMs: 20_000 },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    directory,
    caFile: pki.ca,
    root: async () => (await httpsGet(`https://127.0.0.1:${pmgmt}/roots/0`, ca)).body,
    stop,
  };
}
