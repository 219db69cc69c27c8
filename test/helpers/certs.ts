/** Self-signed certificates for tests: one implementation with the benches (bench/lib/certs.mjs). */
export { selfSigned } from '../../bench/lib/certs.mjs';
