import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/client.js';
import { checkOci } from '../engine/crash/oci-world.js';
import { fakeOciWithLb, ociDaemonEnv } from '../fakes/oci/daemon.js';
import type { FakeOci } from '../fakes/oci/fake-oci.js';
import type { FakeLoadBalancer } from '../fakes/oci/load-balancer.js';
import { COMPARTMENT, SUBNET } from '../fakes/oci/setup.js';
import { baton, type Daemon, startDaemon, type Workspace, workspace } from '../helpers/baton.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 6 with the real daemon: `baton serve` (OCI endpoints at the in-process fake) SIGKILLed right
 * before each journaled step of a deploy of runtime oci + router oci-lb (BATON_TEST_KILL_AT), then started
 * again: it recovers the deploy (forward once traffic moved, else back) with one set of instances
 * serving behind the load balancer, nothing orphaned, nothing created twice; the next deploy works.
 */
let fake: FakeOci;
let lb: FakeLoadBalancer;
let ws: Workspace;
let daemon: Daemon | undefined;
let env: NodeJS.ProcessEnv;
const REPLICAS = 2;

const spec = (version: string) => `services:
  web:
    runtime: oci
    port: 8080
    replicas: ${REPLICAS}
    env: { VERSION: ${version} }
    containerInstance:
      compartmentId: ${COMPARTMENT}
      availabilityDomain: GARu:EU-FRANKFURT-1-AD-3
      shape: CI.Standard.A1.Flex
      shapeConfig: { ocpus: 1, memoryInGBs: 1 }
      vnics: [{ subnetId: ${SUBNET} }]
      containers: [{ displayName: app, imageUrl: "ghcr.io/acme/hello:1" }]
    probe: { http: { path: / } }
    stopTimeout: 5s
    traffic:
      listen: "192.0.2.10:80"
      router:
        kind: oci-lb
        loadBalancerId: LB
        backends: [{ port: 8080, backendSet: http }]
        pollInterval: 200ms
        drainPeriod: 200ms
    strategy: { type: replace }
`;

const cli = (args: string[]) => baton(args, { dataDir: ws.dataDir });
const deploy = (version: string) => {
  writeFileSync(ws.specFile, spec(version).replace('LB', lb.id));
  return cli(['deploy', '-f', ws.specFile]);
};

beforeAll(async () => {
  // Lists lag one call behind creates.
  ({ fake, lb } = await fakeOciWithLb({ listLag: 1 }));
  ws = workspace();
  env = ociDaemonEnv(ws.dir, fake);
});

afterAll(async () => {
  await daemon?.kill();
  await ws?.cleanup();
  await fake?.close();
});

interface History {
  current: number;
  revisions: Array<{ number: number; status: string }>;
  deployments: Array<{ id: string; state: string; toRevision: number; fromRevision: number | null }>;
}

it('replace: SIGKILL of baton serve before every journaled step, recovered by the next one', async () => {
  const owner = resolve(ws.dataDir);
  daemon = await startDaemon(ws.dataDir, env);
  const first = await deploy('v1');
  expect(first.code, first.stderr).toBe(0);
  await checkOci(fake, lb, owner, REPLICAS, 1, 'the first deploy');
  const states: string[] = [];
  let version = 1;
  for (let step = 1; ; step++) {
    let past = false;
    // Before each step only: the in-process tests (test/engine/oci-crash.test.ts) kill after every journal
    // entry of four strategies; this one shows the daemon's own path (state files, env, recovery at start).
    for (const phase of ['begin'] as const) {
      const at = `${step}:${phase}`;
      await daemon.kill('SIGTERM');
      daemon = await startDaemon(ws.dataDir, { ...env, BATON_TEST_KILL_AT: at });
      const r = await deploy(`v${++version}`);
      if (r.code === 0) {
        // The plan has fewer steps: the deploy ran to its end.
        past = true;
        await checkOci(fake, lb, owner, REPLICAS, version, `a deploy that ran past ${at}`);
        break;
      }
      await waitFor(() => daemon!.child.exitCode !== null || daemon!.child.signalCode !== null, {
        timeoutMs: 30_000,
        message: `baton serve to die at ${at}`,
      });
      await daemon.kill('SIGKILL');
      daemon = await startDaemon(ws.dataDir, env);
      // Recovery runs at start; a resumed deploy goes on in the background.
      const h = await waitFor(
        async () => {
          // From the API in-process (what `history --json` prints): a CLI process per poll is slow.
          const out = await ApiClient.from({ dataDir: ws.dataDir }).json<History>(
            'GET',
            '/v1/services/web/history?limit=10',
          );
          const d = out.deployments.find((x) => x.toRevision === version);
          return d && (d.state === 'succeeded' || d.state === 'rolled-back') ? { out, d } : undefined;
        },
        { timeoutMs: 60_000, message: `the deploy killed at ${at} to be recovered` },
      );
      const serving = h.d.state === 'succeeded' ? version : h.d.fromRevision!;
      expect(h.out.current, at).toBe(serving);
      expect(h.out.revisions.find((x) => x.number === version)?.status, at).toBe(
        h.d.state === 'succeeded' ? 'active' : 'failed',
      );
      await checkOci(fake, lb, owner, REPLICAS, serving, `killed at ${at}`);
      states.push(h.d.state);
    }
    if (past) break;
  }
  expect(states.length).toBeGreaterThanOrEqual(4);
  expect(new Set(states)).toEqual(new Set(['succeeded', 'rolled-back']));
}, 600_000);
