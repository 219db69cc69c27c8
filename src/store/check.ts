import { InputError } from '../core/errors.js';

const KEY = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const PREFIX = /^(?:[A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]*$/;
const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Every Store checks keys and log names the same way, so SQLite accepts exactly what NATS KV would. */
export function checkKey(key: string, what = 'key'): void {
  if (!KEY.test(key)) {
    throw new InputError(`invalid store ${what} "${key}": use dot-separated tokens of [A-Za-z0-9_-]`);
  }
}

export function checkPrefix(prefix: string): void {
  if (!PREFIX.test(prefix)) {
    throw new InputError(`invalid store prefix "${prefix}": use dot-separated tokens of [A-Za-z0-9_-]`);
  }
}

/** One key token: a service name or deployment id that becomes part of a key. */
export function checkToken(token: string, what: string): void {
  if (!TOKEN.test(token)) {
    throw new InputError(`invalid ${what} "${token}": use letters, digits, '_' and '-'`);
  }
}

/** Values are stored as JSON; anything JSON cannot carry is refused rather than silently changed. */
export function toJson(key: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  if (json === undefined) throw new InputError(`value for ${key} is not representable as JSON`);
  return json;
}
