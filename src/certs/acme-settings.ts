import { existsSync } from 'node:fs';
import { InputError } from '../core/errors.js';

export const LETS_ENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';

/** The daemon's ACME settings (`baton serve --acme-*`, `BATON_ACME_*`). */
export interface AcmeSettings {
  directory: string;
  email?: string;
  /** PEM file of an extra CA trusted for the directory's HTTPS (e.g. Pebble's). */
  caFile?: string;
}

export interface AcmeFlags {
  acmeEmail?: string | undefined;
  acmeDirectory?: string | undefined;
  acmeCaFile?: string | undefined;
}

/** Flags win over `BATON_ACME_EMAIL`, `BATON_ACME_DIRECTORY`, `BATON_ACME_CA_FILE`; bad values exit 2. */
export function resolveAcmeSettings(flags: AcmeFlags, env: NodeJS.ProcessEnv = process.env): AcmeSettings {
  const directory = flags.acmeDirectory ?? env.BATON_ACME_DIRECTORY ?? LETS_ENCRYPT_PRODUCTION;
  const email = flags.acmeEmail ?? env.BATON_ACME_EMAIL;
  const caFile = flags.acmeCaFile ?? env.BATON_ACME_CA_FILE;
  let url: URL;
  try {
    url = new URL(directory);
  } catch {
    throw new InputError(`--acme-directory: expected an https:// URL, got ${JSON.stringify(directory)}`);
  }
  if (url.protocol !== 'https:')
    throw new InputError(`--acme-directory: expected an https:// URL, got ${JSON.stringify(directory)}`);
  if (email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(email))
    throw new InputError(
      `--acme-email: expected an address like ops@example.com, got ${JSON.stringify(email)}`,
    );
  if (caFile !== undefined && !existsSync(caFile))
    throw new InputError(`--acme-ca-file: ${caFile} does not exist (expected a PEM file)`);
  return { directory, ...(email ? { email } : {}), ...(caFile ? { caFile } : {}) };
}
