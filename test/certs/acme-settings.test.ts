import { describe, expect, it } from 'vitest';
import { LETS_ENCRYPT_PRODUCTION, resolveAcmeSettings } from '../../src/certs/acme-settings.js';
import { InputError } from '../../src/core/errors.js';

describe('ACME settings: flags, then BATON_ env, then defaults', () => {
  it('defaults to Let’s Encrypt production with no contact', () => {
    expect(resolveAcmeSettings({}, {})).toEqual({ directory: LETS_ENCRYPT_PRODUCTION });
  });

  it('takes BATON_ACME_* when no flag is given, and a flag over the env', () => {
    const env = {
      BATON_ACME_DIRECTORY: 'https://ca.test/dir',
      BATON_ACME_EMAIL: 'a@b.test',
      BATON_ACME_CA_FILE: '/etc/hostname',
    };
    expect(resolveAcmeSettings({}, env)).toEqual({
      directory: 'https://ca.test/dir',
      email: 'a@b.test',
      caFile: '/etc/hostname',
    });
    expect(
      resolveAcmeSettings({ acmeEmail: 'ops@x.test', acmeDirectory: 'https://other.test/d' }, env),
    ).toMatchObject({
      directory: 'https://other.test/d',
      email: 'ops@x.test',
    });
  });

  it('refuses bad values with exit 2, naming the flag', () => {
    const bad = (flags: Parameters<typeof resolveAcmeSettings>[0]) => {
      try {
        resolveAcmeSettings(flags, {});
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        expect((e as InputError).exitCode).toBe(2);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ acmeDirectory: 'http://ca.test/dir' })).toMatch(
      /^--acme-directory: expected an https:\/\/ URL/,
    );
    expect(bad({ acmeDirectory: 'not a url' })).toMatch(/^--acme-directory/);
    expect(bad({ acmeEmail: 'nobody' })).toMatch(/^--acme-email/);
    expect(bad({ acmeCaFile: '/nonexistent/ca.pem' })).toMatch(
      /^--acme-ca-file: \/nonexistent\/ca\.pem does not exist/,
    );
  });
});
