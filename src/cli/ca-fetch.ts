import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';

/**
 * A `fetch` that trusts the CA in `caFile` (a control plane with its own certificate authority), through
 * undici's own fetch and Agent so the dispatcher and the fetch are one version.
 */
export function caFetch(caFile: string): typeof fetch {
  const dispatcher = new Agent({ connect: { ca: readFileSync(caFile) } });
  return ((input: string, init?: RequestInit) =>
    undiciFetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
}
