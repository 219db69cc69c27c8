import { generateKeyPairSync } from 'node:crypto';
import { SimpleAuthenticationDetailsProvider } from 'oci-common';

let key: string | undefined;

/**
 * Credentials for the fake: a real RSA key (the SDK signs every request with it; the fake does not check
 * signatures). Generated once per test process.
 */
export function testAuth(): SimpleAuthenticationDetailsProvider {
  key ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  return new SimpleAuthenticationDetailsProvider(
    'ocid1.tenancy.oc1..fake',
    'ocid1.user.oc1..fake',
    '00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff',
    key,
    null,
  );
}
