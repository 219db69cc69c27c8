import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsChecks } from '../../src/cloud/aws/checks.js';
import { ociChecks } from '../../src/cloud/oci/checks.js';
import { baton } from '../helpers/baton.js';

/** `baton doctor`'s cloud credential checks: OCI config file or instance principals, the AWS chain. */
describe('doctor: cloud credentials', () => {
  let dir: string;
  let config: string;
  const key = join('KEYDIR', 'key.pem');

  const profile = (name: string, keyFile: string, extra = '') =>
    `[${name}]\nuser=ocid1.user.oc1..u\nfingerprint=00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\ntenancy=ocid1.tenancy.oc1..t\nregion=eu-frankfurt-1\nkey_file=${keyFile}\n${extra}`;
  const oci = (env: NodeJS.ProcessEnv) => ociChecks(['web'], { BATON_OCI_CONFIG_FILE: config, ...env });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'baton-doctor-cloud-'));
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    writeFileSync(join(dir, 'key.pem'), pem, { mode: 0o600 });
    writeFileSync(join(dir, 'garbage.pem'), 'not a key\n', { mode: 0o600 });
    writeFileSync(join(dir, 'locked.pem'), pem, { mode: 0o600 });
    chmodSync(join(dir, 'locked.pem'), 0o000);
    config = join(dir, 'oci-config');
    writeFileSync(
      config,
      [
        profile('DEFAULT', key.replace('KEYDIR', dir)),
        '# a profile inheriting everything but its key from DEFAULT',
        `[GARBAGE]\nkey_file=${join(dir, 'garbage.pem')}`,
        `[MISSING]\nkey_file=${join(dir, 'nope.pem')}`,
        `[LOCKED]\nkey_file=${join(dir, 'locked.pem')}`,
        '',
      ].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('OCI: a valid profile passes; no check at all without an OCI service', async () => {
    expect(await oci({})).toEqual([
      {
        name: 'oci credentials',
        status: 'ok',
        detail: `profile [DEFAULT] of ${config}: key readable, region eu-frankfurt-1 for web`,
      },
    ]);
    expect(await ociChecks([], {})).toEqual([]);
  });

  it('OCI: a missing file, a missing profile, missing keys — each with its fix', async () => {
    const [noFile] = await ociChecks(['web'], { BATON_OCI_CONFIG_FILE: join(dir, 'absent') });
    expect(noFile).toMatchObject({ status: 'fail', detail: expect.stringMatching(/cannot read .*ENOENT/) });
    expect(noFile!.fix).toMatch(/BATON_OCI_CONFIG_FILE.*BATON_OCI_AUTH=instance-principal/);
    const [noProfile] = await oci({ BATON_OCI_PROFILE: 'PROD' });
    expect(noProfile).toMatchObject({
      status: 'fail',
      detail: `${config} has no profile [PROD] (it has: DEFAULT, GARBAGE, MISSING, LOCKED)`,
      fix: `set BATON_OCI_PROFILE to one of them, or add [PROD] to ${config}`,
    });
    const bare = join(dir, 'bare-config');
    writeFileSync(bare, '[DEFAULT]\nuser=ocid1.user.oc1..u\n');
    const [lacks] = await ociChecks(['web'], { BATON_OCI_CONFIG_FILE: bare });
    expect(lacks).toMatchObject({
      status: 'fail',
      detail: `profile [DEFAULT] of ${bare} lacks fingerprint, tenancy, key_file, region`,
    });
    expect(lacks!.fix).toMatch(/or set BATON_OCI_REGION/);
  });

  it('OCI: a key file that is missing, unreadable or not a key', async () => {
    const [missing] = await oci({ BATON_OCI_PROFILE: 'MISSING' });
    expect(missing).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/cannot read key_file .*ENOENT/),
    });
    expect(missing!.fix).toMatch(/chmod 600/);
    const [garbage] = await oci({ BATON_OCI_PROFILE: 'GARBAGE' });
    expect(garbage).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/is not a usable private key/),
    });
    // Root reads any file whatever its mode: the mode only stops other users.
    if (process.getuid?.() !== 0) {
      const [locked] = await oci({ BATON_OCI_PROFILE: 'LOCKED' });
      expect(locked).toMatchObject({
        status: 'fail',
        detail: expect.stringMatching(/cannot read key_file .*EACCES/),
      });
    }
  });

  it('OCI: instance principals need only a region; a bad BATON_OCI_AUTH is named', async () => {
    expect(
      await oci({ BATON_OCI_AUTH: 'instance-principal', BATON_OCI_REGION: 'eu-frankfurt-1' }),
    ).toMatchObject([
      { status: 'ok', detail: expect.stringMatching(/^instance principals, region eu-frankfurt-1 for web/) },
    ]);
    expect(await oci({ BATON_OCI_AUTH: 'instance-principal' })).toMatchObject([
      { status: 'fail', fix: 'set BATON_OCI_REGION, e.g. eu-frankfurt-1' },
    ]);
    expect(await oci({ BATON_OCI_AUTH: 'magic' })).toMatchObject([
      {
        status: 'fail',
        detail: expect.stringMatching(/BATON_OCI_AUTH: expected config or instance-principal/),
      },
    ]);
  });

  /** The AWS SDK reads process.env itself: each case sets exactly the variables it is about. */
  const AWS_VARS = [
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_CONFIG_FILE',
    'AWS_SHARED_CREDENTIALS_FILE',
    'AWS_EC2_METADATA_DISABLED',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'BATON_AWS_REGION',
  ];
  async function withAwsEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(AWS_VARS.map((k) => [k, process.env[k]]));
    for (const k of AWS_VARS) delete process.env[k];
    Object.assign(process.env, {
      AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      ...vars,
    });
    try {
      return await fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  it('AWS: environment credentials and region resolve with no network', async () => {
    const checks = await withAwsEnv(
      { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE00001234', AWS_SECRET_ACCESS_KEY: 'x' },
      () => awsChecks(['api']),
    );
    expect(checks).toEqual([
      { name: 'aws region', status: 'ok', detail: 'eu-west-1 for api' },
      {
        name: 'aws credentials',
        status: 'ok',
        detail: 'access key …1234 from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for api',
      },
    ]);
    const baton = await withAwsEnv(
      { BATON_AWS_REGION: 'us-east-2', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE00001234', AWS_SECRET_ACCESS_KEY: 'x' },
      () => awsChecks(['api'], process.env),
    );
    expect(baton[0]).toMatchObject({ status: 'ok', detail: 'us-east-2 for api' });
  });

  it('AWS: nothing set — both fail, saying what to set', async () => {
    const checks = await withAwsEnv({}, () => awsChecks(['api'], process.env, 10_000));
    expect(checks).toMatchObject([
      { name: 'aws region', status: 'fail', fix: expect.stringMatching(/AWS_REGION/) },
      {
        name: 'aws credentials',
        status: 'fail',
        detail: expect.stringMatching(/^no AWS credentials for api/),
        fix: expect.stringMatching(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.*AWS_PROFILE/),
      },
    ]);
  });

  it('baton doctor --json runs them for the services of the file', async () => {
    const spec = join(dir, 'baton.yaml');
    writeFileSync(
      spec,
      `services:
  web:
    runtime: oci
    port: 8080
    containerInstance:
      compartmentId: ocid1.compartment.oc1..c
      availabilityDomain: AD-1
      shape: CI.Standard.E4.Flex
      shapeConfig: { ocpus: 1 }
      vnics: [{ subnetId: ocid1.subnet.oc1..s }]
      containers: [{ imageUrl: x/y:1 }]
    probe: { http: { path: / } }
    traffic:
      listen: "192.0.2.10:80"
      router: { kind: oci-lb, loadBalancerId: ocid1.loadbalancer.oc1..l, backends: [{ port: 8080, backendSet: http }] }
`,
    );
    const r = await baton(['doctor', '-f', spec, '--json'], {
      dataDir: join(dir, 'data'),
      env: { BATON_OCI_CONFIG_FILE: config, BATON_OCI_PROFILE: 'GARBAGE', BATON_API: '127.0.0.1:1' },
    });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { checks: Array<{ name: string; status: string; fix?: string }> };
    expect(out.checks.find((c) => c.name === 'oci credentials')).toMatchObject({
      status: 'fail',
      fix: expect.stringMatching(/PEM private key/),
    });
    expect(out.checks.some((c) => c.name.startsWith('aws'))).toBe(false);
  });
});
