import { generateKeyPairSync, randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeOci } from './fake-oci.js';
import type { FakeLoadBalancer } from './load-balancer.js';
import { COMPARTMENT } from './setup.js';

/**
 * A fake OCI (on its own random loopback /24: other test files' fake instances bind ip:8080 too) with one
 * load balancer `edge` holding backend set `http`.
 */
export async function fakeOciWithLb(opts: {
  listLag: number;
}): Promise<{ fake: FakeOci; lb: FakeLoadBalancer }> {
  const fake = await FakeOci.start({
    transitionGets: 1,
    listLag: opts.listLag,
    net: `127.${10 + randomInt(240)}.${randomInt(250)}`,
  });
  const lb = fake.lb.add({ displayName: 'edge', compartmentId: COMPARTMENT });
  fake.lb.addBackendSet(lb, 'http');
  return { fake, lb };
}

/**
 * The environment that points `baton serve` at `fake`: an OCI config file with a fresh API key, both
 * written into `dir` (the key 0600, as the SDK expects).
 */
export function ociDaemonEnv(dir: string, fake: FakeOci): NodeJS.ProcessEnv {
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  const keyFile = join(dir, 'key.pem');
  writeFileSync(keyFile, key, { mode: 0o600 });
  const config = join(dir, 'oci-config');
  writeFileSync(
    config,
    `[DEFAULT]\nuser=ocid1.user.oc1..fake\nfingerprint=00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\ntenancy=ocid1.tenancy.oc1..fake\nregion=eu-frankfurt-1\nkey_file=${keyFile}\n`,
  );
  return { BATON_OCI_CONFIG_FILE: config, BATON_OCI_ENDPOINT: fake.url };
}
