import { randomBytes } from 'node:crypto';
import { ConflictError, LockHeldError, NotFoundError } from '../core/errors.js';
import type { Deployment, Revision, RevisionStatus, ServiceRecord } from '../core/types.js';
import { DEFAULTS, type ServiceSpec } from '../spec/schema.js';
import { checkToken } from './check.js';
import { keyedSpecHash } from './hash.js';
import type { Store } from './store.js';

/** One journal line: a step's effect is journaled `begin` before it is attempted, `done`/`failed` after. */
export interface JournalEntry {
  step: number;
  op: string;
  phase: 'begin' | 'done' | 'failed';
  data?: Record<string, unknown>;
  error?: string;
}
export type JournalRecord = JournalEntry & { seq: number; at: string };

export interface LockHolder {
  holder: string;
  pid?: number | undefined;
  deployment?: string | undefined;
}
/** A service's deploy lock. It lapses at `expiresAt` unless renewed; an expired lock can be taken over. */
export interface Lock extends LockHolder {
  service: string;
  since: string;
  expiresAt: string;
}

export interface AuditEvent {
  actor: string;
  action: string;
  service?: string | undefined;
  revision?: number | undefined;
  deployment?: string | undefined;
  result: 'ok' | 'failed' | 'started';
  message?: string | undefined;
}
export type AuditRecord = AuditEvent & { seq: number; at: string };

export type DeploymentPatch = Partial<Omit<Deployment, 'id' | 'service'>>;

export const DEFAULT_HISTORY_LIMIT: number = DEFAULTS.historyLimit;
/** How many times a read-modify-write is retried when another writer got there first. */
const CAS_ATTEMPTS = 10;
const AUDIT_LOG = 'audit';
/** The per-store secret that keys revision hashes (made once, by whichever writer comes first). */
const HASH_KEY = 'meta.hash-key';

const key = {
  service: (name: string) => `services.${name}`,
  revisions: (service: string) => `revisions.${service}.`,
  revision: (service: string, n: number) => `revisions.${service}.${String(n).padStart(6, '0')}`,
  deployment: (id: string) => `deployments.${id}`,
  lock: (service: string) => `locks.${service}`,
  journal: (deployment: string) => `journal.${deployment}`,
};

function service(name: string): string {
  checkToken(name, 'service name');
  return name;
}
function deploymentId(id: string): string {
  checkToken(id, 'deployment id');
  return id;
}
const newestFirst = <T>(items: T[], limit?: number): T[] => items.reverse().slice(0, limit ?? items.length);

/**
 * Typed access to Baton's state for the engine, built only on the Store interface (so it runs unchanged on
 * any Store). Every write is a compare-and-set; read-modify-writes retry on conflict.
 */
export class Repo {
  private readonly store: Store;
  private readonly now: () => number;
  private hashKey: Promise<Buffer> | undefined;

  constructor(store: Store, opts: { now?: () => number } = {}) {
    this.store = store;
    this.now = opts.now ?? Date.now;
  }

  // Services

  async getService(name: string): Promise<ServiceRecord | undefined> {
    return (await this.store.get<ServiceRecord>(key.service(service(name))))?.value;
  }

  async listServices(): Promise<ServiceRecord[]> {
    return (await this.store.list<ServiceRecord>('services.')).map((e) => e.value);
  }

  /** Applies `fn` to the current record and writes the result; `fn` may run more than once, so keep it pure. */
  async updateService(
    name: string,
    fn: (cur: ServiceRecord | undefined) => ServiceRecord,
  ): Promise<ServiceRecord> {
    return this.cas(key.service(service(name)), fn);
  }

  // Revisions

  /** The content hash of a spec in this store: HMAC-SHA256 under the store's own secret key. */
  async specHash(spec: ServiceSpec): Promise<string> {
    return keyedSpecHash(await this.key(), spec);
  }

  private key(): Promise<Buffer> {
    this.hashKey ??= (async () => {
      const found = await this.store.get<string>(HASH_KEY);
      if (found) return Buffer.from(found.value, 'base64');
      const made = randomBytes(32).toString('base64');
      try {
        await this.store.create(HASH_KEY, made);
        return Buffer.from(made, 'base64');
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
        return Buffer.from((await this.store.get<string>(HASH_KEY))!.value, 'base64');
      }
    })();
    this.hashKey.catch(() => {
      this.hashKey = undefined;
    });
    return this.hashKey;
  }

  /** Revisions as read: the hash is always the keyed one (revisions recorded before keys get it too). */
  private async keyed(r: Revision): Promise<Revision> {
    return { ...r, hash: await this.specHash(r.spec) };
  }

  /**
   * Records `spec` as the service's next revision (status `pending`), then prunes history beyond
   * `historyLimit`, never the service's `current` revision. It always creates: to reuse an identical
   * spec's revision, look it up first with `findRevisionBySpec`.
   */
  async recordRevision(
    name: string,
    spec: ServiceSpec,
    opts: { historyLimit?: number; secretEnv?: string[]; secretPaths?: string[] } = {},
  ): Promise<{ revision: Revision; created: boolean }> {
    const hash = await this.specHash(spec);
    const record = await this.updateService(name, (cur) => ({
      ...(cur ?? { name, current: null }),
      lastRevision: (cur?.lastRevision ?? 0) + 1,
    }));
    const revision: Revision = {
      service: name,
      number: record.lastRevision,
      hash,
      spec,
      createdAt: this.iso(),
      status: 'pending',
      ...(opts.secretPaths?.length ? { secretPaths: opts.secretPaths } : {}),
      ...(opts.secretEnv?.length ? { secretEnv: opts.secretEnv } : {}),
    };
    await this.store.create(key.revision(name, revision.number), revision);
    await this.prune(name, Math.max(1, opts.historyLimit ?? DEFAULT_HISTORY_LIMIT));
    return { revision, created: true };
  }

  async getRevision(name: string, n: number): Promise<Revision | undefined> {
    const r = (await this.store.get<Revision>(key.revision(service(name), n)))?.value;
    return r && this.keyed(r);
  }

  /** The service's kept revisions, newest first. */
  async listRevisions(name: string): Promise<Revision[]> {
    const entries = await this.store.list<Revision>(key.revisions(service(name)));
    const revisions = await Promise.all(entries.map((e) => this.keyed(e.value)));
    return revisions.sort((a, b) => b.number - a.number);
  }

  /** The newest kept revision with this spec (by keyed content hash). */
  async findRevisionBySpec(name: string, spec: ServiceSpec): Promise<Revision | undefined> {
    const hash = await this.specHash(spec);
    return (await this.listRevisions(name)).find((r) => r.hash === hash);
  }

  async setRevisionStatus(
    name: string,
    n: number,
    status: RevisionStatus,
    reason?: string,
  ): Promise<Revision> {
    return this.cas<Revision>(key.revision(service(name), n), (cur) => {
      if (!cur) throw new NotFoundError(`revision ${n} of service ${name}`);
      return { ...cur, status, reason };
    });
  }

  private async prune(name: string, keep: number): Promise<void> {
    const current = (await this.getService(name))?.current ?? null;
    const entries = await this.store.list<Revision>(key.revisions(name));
    entries.sort((a, b) => b.value.number - a.value.number);
    for (const e of entries.slice(keep)) {
      if (e.value.number === current) continue;
      // A revision written meanwhile (its status changed) is left for the next prune.
      await this.store.delete(e.key, e.revision).catch(ignoreConflict);
    }
  }

  // Deployments

  async createDeployment(d: Deployment): Promise<void> {
    service(d.service);
    await this.store.create(key.deployment(deploymentId(d.id)), d);
  }

  async getDeployment(id: string): Promise<Deployment | undefined> {
    return (await this.store.get<Deployment>(key.deployment(deploymentId(id))))?.value;
  }

  async updateDeployment(id: string, patch: DeploymentPatch): Promise<Deployment> {
    return this.cas<Deployment>(key.deployment(deploymentId(id)), (cur) => {
      if (!cur) throw new NotFoundError(`deployment ${id}`);
      return { ...cur, ...patch, id: cur.id, service: cur.service };
    });
  }

  /** Deployments, newest first (by start time), optionally of one service. */
  async listDeployments(name?: string, opts: { limit?: number } = {}): Promise<Deployment[]> {
    if (name !== undefined) service(name);
    const all = (await this.store.list<Deployment>('deployments.'))
      .map((e) => e.value)
      .filter((d) => name === undefined || d.service === name)
      .sort((a, b) => cmp(a.startedAt, b.startedAt) || cmp(a.id, b.id));
    return newestFirst(all, opts.limit);
  }

  // Journal

  /** Appends a journal entry; returns its sequence number within the deployment's journal. */
  async journal(id: string, entry: JournalEntry): Promise<number> {
    return this.store.append(key.journal(deploymentId(id)), entry);
  }

  async readJournal(id: string): Promise<JournalRecord[]> {
    const records = await this.store.read<JournalEntry>(key.journal(deploymentId(id)));
    return records.map((r) => ({ ...r.value, seq: r.seq, at: r.at }));
  }

  // Lock

  /**
   * Takes the service's lock for `ttlMs`. Throws LockHeldError while anyone (the same holder included)
   * holds an unexpired lock; an expired lock is taken over by compare-and-set.
   */
  async acquireLock(name: string, holder: LockHolder, ttlMs: number): Promise<Lock> {
    return this.cas<Lock>(key.lock(service(name)), (cur) => {
      const now = this.now();
      if (cur && Date.parse(cur.expiresAt) > now) {
        throw new LockHeldError(name, { holder: cur.holder, since: cur.since, deployment: cur.deployment });
      }
      const { holder: who, pid, deployment } = holder;
      return {
        service: name,
        holder: who,
        pid,
        deployment,
        since: this.iso(now),
        expiresAt: this.iso(now + ttlMs),
      };
    });
  }

  /** Extends the lock held by `deployment`; throws LockHeldError if another holds it, NotFoundError if nobody. */
  async renewLock(name: string, deployment: string, ttlMs: number): Promise<Lock> {
    return this.cas<Lock>(key.lock(service(name)), (cur) => {
      if (!cur) throw new NotFoundError(`lock on service ${name}`);
      if (cur.deployment !== deployment) {
        throw new LockHeldError(name, { holder: cur.holder, since: cur.since, deployment: cur.deployment });
      }
      return { ...cur, expiresAt: this.iso(this.now() + ttlMs) };
    });
  }

  /**
   * Releases the lock if `deployment` holds it, or whoever holds it when `deployment` is omitted (a forced
   * unlock). Returns whether a lock was removed.
   */
  async releaseLock(name: string, deployment?: string): Promise<boolean> {
    const k = key.lock(service(name));
    for (let attempt = 1; ; attempt++) {
      const cur = await this.store.get<Lock>(k);
      if (!cur || (deployment !== undefined && cur.value.deployment !== deployment)) return false;
      try {
        await this.store.delete(k, cur.revision);
        return true;
      } catch (e) {
        if (!(e instanceof ConflictError) || attempt >= CAS_ATTEMPTS) throw e;
      }
    }
  }

  /** The lock as stored, expired or not. */
  async getLock(name: string): Promise<Lock | undefined> {
    return (await this.store.get<Lock>(key.lock(service(name))))?.value;
  }

  // Audit

  async audit(e: AuditEvent): Promise<number> {
    return this.store.append(AUDIT_LOG, { ...e, at: this.iso() });
  }

  /** Audit records, newest first, optionally of one service. */
  async listAudit(opts: { service?: string; limit?: number } = {}): Promise<AuditRecord[]> {
    const records = await this.store.read<AuditEvent & { at: string }>(AUDIT_LOG);
    const all = records
      .map((r) => ({ ...r.value, seq: r.seq }))
      .filter((r) => opts.service === undefined || r.service === opts.service);
    return newestFirst(all, opts.limit);
  }

  /** Read, apply `fn`, write back with compare-and-set; on conflict re-read and retry. */
  private async cas<T>(k: string, fn: (cur: T | undefined) => T): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const cur = await this.store.get<T>(k);
      const next = fn(cur?.value);
      try {
        if (cur) await this.store.update(k, next, cur.revision);
        else await this.store.create(k, next);
        return next;
      } catch (e) {
        if (!(e instanceof ConflictError) || attempt >= CAS_ATTEMPTS) throw e;
      }
    }
  }

  private iso(ms: number = this.now()): string {
    return new Date(ms).toISOString();
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function ignoreConflict(e: unknown): void {
  if (!(e instanceof ConflictError)) throw e;
}
