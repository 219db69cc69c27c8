import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { ociSettingsFromEnv } from '../../api/oci.js';
import type { Check } from '../../core/check.js';

const DEFAULT_CONFIG = '~/.oci/config';
const REQUIRED = ['user', 'fingerprint', 'tenancy', 'key_file'] as const;
const OTHER_AUTH =
  'or, on an OCI instance in a dynamic group with the right policies, BATON_OCI_AUTH=instance-principal with BATON_OCI_REGION';

const expand = (p: string): string => (p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p);

/** An OCI config file's profiles; every profile inherits the DEFAULT profile's keys (as the SDK reads it). */
export function parseOciConfig(text: string): Map<string, Record<string, string>> {
  const raw = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(t);
    if (header) {
      current = {};
      raw.set(header[1]!.trim(), current);
      continue;
    }
    const eq = t.indexOf('=');
    if (current && eq > 0) current[t.slice(0, eq).trim()] = t.slice(eq + 1).trim();
  }
  const base = raw.get('DEFAULT') ?? {};
  return new Map([...raw].map(([name, keys]) => [name, { ...base, ...keys }]));
}

/**
 * What `runtime: oci` and `router: oci-lb` services need of this machine, from the BATON_OCI_* settings
 * the control plane uses (src/api/oci.ts): the config file, its profile with every key the SDK signs
 * with, and a private key that can be read and parsed (with the profile's pass_phrase) — or instance
 * principals with a region. No OCI call is made.
 */
export async function ociChecks(services: string[], env: NodeJS.ProcessEnv = process.env): Promise<Check[]> {
  if (services.length === 0) return [];
  const who = `for ${services.join(', ')}`;
  const name = 'oci credentials';
  let settings: ReturnType<typeof ociSettingsFromEnv>;
  try {
    settings = ociSettingsFromEnv(env);
  } catch (err) {
    return [{ name, status: 'fail', detail: (err as Error).message, fix: 'unset BATON_OCI_AUTH or fix it' }];
  }
  if (settings.auth === 'instance-principal') {
    return settings.region
      ? [
          {
            name,
            status: 'ok',
            detail: `instance principals, region ${settings.region} ${who} (certificates come from the instance metadata service at the first call)`,
          },
        ]
      : [
          {
            name,
            status: 'fail',
            detail: `instance principals need a region ${who}`,
            fix: 'set BATON_OCI_REGION, e.g. eu-frankfurt-1',
          },
        ];
  }
  const file = settings.configFile ?? DEFAULT_CONFIG;
  const fail = (detail: string, fix: string): Check[] => [{ name, status: 'fail', detail, fix }];
  let text: string;
  try {
    text = await readFile(expand(file), 'utf8');
  } catch (err) {
    return fail(
      `cannot read the OCI config file ${file} ${who}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      `create it (oci setup config) or point BATON_OCI_CONFIG_FILE at one, ${OTHER_AUTH}`,
    );
  }
  const profiles = parseOciConfig(text);
  const profile = profiles.get(settings.profile);
  if (!profile)
    return fail(
      `${file} has no profile [${settings.profile}] (it has: ${[...profiles.keys()].join(', ') || 'none'})`,
      `set BATON_OCI_PROFILE to one of them, or add [${settings.profile}] to ${file}`,
    );
  const missing = [...REQUIRED, ...(settings.region ? [] : ['region'])].filter((k) => !profile[k]);
  if (missing.length > 0)
    return fail(
      `profile [${settings.profile}] of ${file} lacks ${missing.join(', ')}`,
      `add ${missing.map((k) => `${k}=…`).join(', ')} to [${settings.profile}] (oci setup config writes them)${missing.includes('region') ? ', or set BATON_OCI_REGION' : ''}`,
    );
  const keyFile = resolve(expand(profile.key_file!));
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch (err) {
    return fail(
      `cannot read key_file ${keyFile} of profile [${settings.profile}]: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      `make it readable by the user running baton serve (chmod 600, owned by that user), or fix key_file in ${file}`,
    );
  }
  try {
    createPrivateKey({ key: pem, ...(profile.pass_phrase ? { passphrase: profile.pass_phrase } : {}) });
  } catch (err) {
    return fail(
      `key_file ${keyFile} of profile [${settings.profile}] is not a usable private key: ${(err as Error).message}`,
      `point key_file at the PEM private key whose public key is uploaded to the user (fingerprint ${profile.fingerprint}), with pass_phrase= if it is encrypted`,
    );
  }
  const region = settings.region ?? profile.region;
  return [
    {
      name,
      status: 'ok',
      detail: `profile [${settings.profile}] of ${file}: key readable, region ${region} ${who}`,
    },
  ];
}
