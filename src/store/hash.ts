import { createHash, createHmac } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth, so equal values give equal text whatever order their keys
 * were written in. Whatever JSON drops (undefined, functions) is dropped first; array order is kept.
 */
export function canonicalJson(value: unknown): string {
  const json = JSON.stringify(value);
  return json === undefined ? 'null' : write(JSON.parse(json));
}

function write(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const fields = Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${write(o[k])}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(v);
}

/** sha256 (hex) of the canonical JSON of a spec (unkeyed: for identities that reveal no secret). */
export function specHash(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}

/**
 * HMAC-SHA256 (hex) of the canonical JSON of a spec under the store's secret key: the content hash of a
 * revision. Keyed, so a weak secret in a spec cannot be guessed offline from a hash shown in history.
 */
export function keyedSpecHash(key: Buffer, spec: unknown): string {
  return createHmac('sha256', key).update(canonicalJson(spec)).digest('hex');
}
