import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertStatus } from '../../src/certs/cert-manager.js';
import {
  baton,
  CLI,
  type Daemon,
  freePort,
  helloYaml,
  startDaemon,
  type Workspace,
  workspace,
} from '../helpers/baton.js';
import { type Pebble, requirePebble, startPebble } from '../helpers/pebble.js';
import { requireBuilt } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

/** examples/hello behind `tls: auto` for `hosts` on one TLS listener. */
function autoYaml(service: string, listen: number, hosts: string[]): string {
  return helloYaml({ service, version: 'v1', listen, replicas: 1 }).replace(
    'traffic:\n',
    `traffic:\n      hosts: [${hosts.join(', ')}]\n      tls: auto\n`,
  );
}

interface Answer {
  status: number;
  serial: string;
}

/** GET over TLS to the proxy as `host`, trusting only Pebble's root; the serial the server presented. */
function get(port: number, host: string, ca: string, agent: Agent | false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', servername: host, headers: { host }, ca, agent, timeout: 10_000 },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, serial }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe.skipIf(!requirePebble() || !requireBuilt(CLI))('tls: auto with Pebble (e2e)', () => {
  let ws: Workspace;
  let pebble: Pebble;
  let daemon: Daemon;
  let root: string;
  let listen: number;
  let args: string[];

  beforeAll(async () => {
    ws = workspace();
    const http = await freePort();
    listen = await freePort();
    // 60 s certificates, renewal due after a tenth of that: background renewals happen during the test.
    pebble = await startPebble(ws.dir, http, { validitySec: 60 });
    root = await pebble.root();
    args = [
      '--http-listen',
      `127.0.0.1:${http}`,
      '--acme-directory',
      pebble.directory,
      '--acme-ca-file',
      pebble.caFile,
    ];
    daemon = await startDaemon(
      ws.dataDir,
      { BATON_ACME_RENEW_FRACTION: '0.1', BATON_ACME_EMAIL: 'ops@baton.test' },
      args,
    );
  }, 60_000);

  afterAll(async () => {
    await daemon?.kill();
    await pebble?.stop();
    await ws?.cleanup();
  });

  it('issues the certificate during the first deploy, as a step', async () => {
    const file = `${ws.dir}/one.yaml`;
    writeFileSync(file, autoYaml('one', listen, ['app.baton.test']));
    const d = await baton(['deploy', '-f', file], { dataDir: ws.dataDir });
    expect(d.code, d.stdout + d.stderr).toBe(0);
    expect(d.stdout + d.stderr).toMatch(/obtain a certificate \(ACME\): app\.baton\.test/);
    const a = await waitFor(() => get(listen, 'app.baton.test', root, false), { timeoutMs: 5000 });
    expect(a.status).toBe(200);
    expect(a.serial).toMatch(/^[0-9A-F]+$/i);
    const certs = await baton(['certs', '--json'], { dataDir: ws.dataDir });
    const list = (JSON.parse(certs.stdout) as { certificates: CertStatus[] }).certificates;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ host: 'app.baton.test', names: ['app.baton.test'], lastError: null });
    expect(list[0]!.issuer).toMatch(/Pebble/);
    // Renewals start 6 s after issue here: the one served may already be a renewed one.
    expect(list[0]!.serial).toMatch(/^[0-9A-F]+$/i);
  }, 90_000);

  it('renews in the background under load: 0 failed handshakes or requests, new connections get the new certificate', async () => {
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 4, ca: root });
    let ok = 0;
    const failures: string[] = [];
    const serials = new Set<string>();
    let running = true;
    const worker = async (fresh: boolean) => {
      while (running) {
        try {
          const a = await get(listen, 'app.baton.test', root, fresh ? false : keepAlive);
          if (a.status !== 200) failures.push(`status ${a.status}`);
          else ok++;
          if (fresh) serials.add(a.serial);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    };
    const workers = [true, true, false, false].map((fresh) => worker(fresh));
    try {
      // Two certificates seen on new connections: a renewal replaced the files while the load ran (renewals
      // come every ~6 s here, so whichever was served when the load began, a switch happens under it).
      await waitFor(() => serials.size >= 2, { timeoutMs: 60_000, intervalMs: 100 });
      // Keep going a little after the switch: connections opened after the new files are served.
      const after = ok + 50;
      await waitFor(() => ok >= after, { timeoutMs: 30_000 });
    } finally {
      running = false;
      await Promise.all(workers);
      keepAlive.destroy();
    }
    console.info(
      `renewal under TLS load: ${ok} requests, ${failures.length} failed, ${serials.size} certificates seen`,
    );
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    const list = JSON.parse((await baton(['certs', '--json'], { dataDir: ws.dataDir })).stdout) as {
      certificates: CertStatus[];
    };
    expect(list.certificates[0]!.lastRenewal).not.toBeNull();
  }, 120_000);

  it('Pebble stopped: a deploy needing a new host fails with exit 1 and the CA’s error; served hosts keep serving', async () => {
    await pebble.stop();
    const file = `${ws.dir}/two.yaml`;
    writeFileSync(file, autoYaml('two', listen, ['two.baton.test']));
    const d = await baton(['deploy', '-f', file], { dataDir: ws.dataDir });
    expect(d.code, d.stdout + d.stderr).toBe(1);
    expect(d.stdout + d.stderr).toMatch(/certificate for two\.baton\.test: .*ECONNREFUSED/);
    expect((await get(listen, 'app.baton.test', root, false)).status).toBe(200);
  }, 60_000);

  it('control plane SIGKILLed and restarted: baton certs shows the same certificates', async () => {
    const before = JSON.parse((await baton(['certs', '--json'], { dataDir: ws.dataDir })).stdout) as {
      certificates: CertStatus[];
    };
    await daemon.kill('SIGKILL');
    expect((await get(listen, 'app.baton.test', root, false)).status).toBe(200);
    daemon = await startDaemon(ws.dataDir, {}, args);
    const after = JSON.parse((await baton(['certs', '--json'], { dataDir: ws.dataDir })).stdout) as {
      certificates: CertStatus[];
    };
    const key = (c: CertStatus) => [c.host, c.serial, c.notAfter, c.issuer, c.names.join(',')];
    const issued = (l: CertStatus[]) => l.filter((c) => c.serial).map(key);
    expect(issued(after.certificates)).toEqual(issued(before.certificates));
    expect(issued(after.certificates).map((k) => k[0])).toEqual(['app.baton.test']);
    const status = JSON.parse((await baton(['status', '--json'], { dataDir: ws.dataDir })).stdout) as {
      certificates: CertStatus[];
    };
    expect(issued(status.certificates)).toEqual(issued(before.certificates));
    expect(readFileSync(`${ws.dataDir}/certs/app.baton.test/key.pem`, 'utf8')).toMatch(/PRIVATE KEY/);
  }, 60_000);
});
