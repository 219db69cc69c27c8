import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConflictError, InputError, NotFoundError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import { ALL_SERVICES, type Principal, ROLES, type Role } from './access.js';

/**
 * Named API tokens, kept in the store (`tokens.<name>`). Only the SHA-256 of a secret is stored: the
 * secret is 32 random bytes, so a hash is enough (nothing to brute-force), and it is compared in
 * constant time. The secret names its token (`baton_<name>_<random>`) so a check is one key read;
 * a revoked or expired token is refused on its next request because every request reads the record.
 */
export interface TokenRecord {
  name: string;
  role: Role;
  services: string[];
  /** sha256 (hex) of the secret. */
  hash: string;
  createdAt: string;
  expiresAt?: string | undefined;
  lastUsedAt?: string | undefined;
}

/** What `token list` and the API show: everything but the hash. */
export type TokenInfo = Omit<TokenRecord, 'hash'>;

/** The data dir's token: the local admin, as before named tokens existed. */
export const LOCAL_ADMIN = 'local-admin';
const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const SECRET = /^baton_([a-z][a-z0-9-]{0,62})_([A-Za-z0-9_-]{43})$/;
/** `lastUsedAt` is written at most this often per token (a read-mostly API should not write per call). */
const LAST_USED_EVERY_MS = 60_000;

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const key = (name: string) => `tokens.${name}`;

export type Verdict =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'unknown' | 'expired'; token?: string };

export class TokenBook {
  private readonly lastWrite = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  async create(req: {
    name: string;
    role: Role;
    services?: string[] | undefined;
    expiresInMs?: number | undefined;
  }): Promise<{ secret: string; token: TokenInfo }> {
    if (!NAME.test(req.name))
      throw new InputError(`token name "${req.name}": expected lowercase letters, digits and dashes`);
    if (req.name === LOCAL_ADMIN) throw new InputError(`token name ${LOCAL_ADMIN} is the data dir's token`);
    if (!ROLES.includes(req.role))
      throw new InputError(`role "${req.role}": expected one of ${ROLES.join(', ')}`);
    if (req.expiresInMs !== undefined && !(req.expiresInMs > 0))
      throw new InputError('expiry must be a positive duration');
    const secret = `baton_${req.name}_${randomBytes(32).toString('base64url')}`;
    const record: TokenRecord = {
      name: req.name,
      role: req.role,
      services: req.services?.length ? req.services : ALL_SERVICES,
      hash: sha256(secret).toString('hex'),
      createdAt: new Date(this.now()).toISOString(),
      ...(req.expiresInMs ? { expiresAt: new Date(this.now() + req.expiresInMs).toISOString() } : {}),
    };
    try {
      await this.store.create(key(req.name), record);
    } catch (err) {
      if (err instanceof ConflictError)
        throw new InputError(`a token named ${req.name} exists (revoke it first)`);
      throw err;
    }
    return { secret, token: info(record) };
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.store.list<TokenRecord>('tokens.')).map((e) => info(e.value));
  }

  async revoke(name: string): Promise<TokenInfo> {
    if (!NAME.test(name)) throw new NotFoundError(`token ${name}`);
    const cur = await this.store.get<TokenRecord>(key(name));
    if (!cur) throw new NotFoundError(`token ${name}`);
    await this.store.delete(key(name));
    return info(cur.value);
  }

  /** The principal a presented secret stands for, or why it does not. */
  async verify(secret: string): Promise<Verdict> {
    const m = SECRET.exec(secret);
    if (!m) return { ok: false, reason: 'unknown' };
    const name = m[1]!;
    const entry = await this.store.get<TokenRecord>(key(name));
    if (!entry) return { ok: false, reason: 'unknown' };
    const want = Buffer.from(entry.value.hash, 'hex');
    const given = sha256(secret);
    if (want.length !== given.length || !timingSafeEqual(want, given))
      return { ok: false, reason: 'unknown' };
    const t = entry.value;
    if (t.expiresAt && Date.parse(t.expiresAt) <= this.now())
      return { ok: false, reason: 'expired', token: name };
    await this.touch(entry.value, entry.revision);
    return { ok: true, principal: { name: t.name, role: t.role, services: t.services } };
  }

  private async touch(t: TokenRecord, revision: number): Promise<void> {
    const now = this.now();
    if (now - (this.lastWrite.get(t.name) ?? 0) < LAST_USED_EVERY_MS) return;
    this.lastWrite.set(t.name, now);
    // Best effort: a concurrent write (a revoke, another touch) wins.
    await this.store
      .update(key(t.name), { ...t, lastUsedAt: new Date(now).toISOString() }, revision)
      .catch(() => undefined);
  }
}

function info({ hash: _hash, ...rest }: TokenRecord): TokenInfo {
  return rest;
}
