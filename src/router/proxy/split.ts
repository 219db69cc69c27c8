import type { IncomingHttpHeaders } from 'node:http';
import type { RevisionSplit } from '../router.js';
import { FORCE_COOKIE, FORCE_HEADER, stickyCookieName } from '../validate.js';
import type { BackendEntry } from './backend.js';
import type { ServiceTable } from './service.js';

/** Targets of a choice besides a revision number: any active backend, or the preview set. */
export const ANY = -1;
export const PREVIEW = -2;

/** Where a request goes: a backend, the revision it was meant for, and whether to set the sticky cookie. */
export interface Choice {
  backend: BackendEntry | undefined;
  /** Revision target for retries (see `ServiceTable.pickFor`). */
  target: number;
  /** Set when the answer should carry the sticky cookie (of the revision that actually answers). */
  sticky: SplitPlan | undefined;
}

interface Slot {
  revision: number;
  percent: number;
  /** Smooth weighted round-robin state. */
  current: number;
}

/**
 * A split compiled once at `setSplit`: the weight table, the cookie names and the `Set-Cookie` values,
 * so a request only reads two headers and walks a few slots.
 */
export class SplitPlan {
  readonly split: RevisionSplit;
  private readonly stickyName: string;
  private readonly slots: Slot[];
  private readonly percentOf = new Map<number, number>();
  /** `Set-Cookie` value per revision with weight > 0. */
  readonly cookies = new Map<number, string>();

  constructor(service: string, split: RevisionSplit) {
    this.split = split;
    this.stickyName = stickyCookieName(service);
    this.slots = split.weights
      .filter((w) => w.percent > 0)
      .map((w) => ({ revision: w.revision, percent: w.percent, current: 0 }));
    for (const w of split.weights) this.percentOf.set(w.revision, w.percent);
    for (const s of this.slots)
      this.cookies.set(s.revision, `${this.stickyName}=${s.revision}; Path=/; HttpOnly; SameSite=Lax`);
  }

  /**
   * Forced revision (header, then cookie) → valid sticky cookie → weights; then least in flight within
   * the revision, or any healthy active backend when the revision has none.
   */
  choose(table: ServiceTable, headers: IncomingHttpHeaders, now: number): Choice {
    const cookie = headers.cookie;
    let forced = this.named(headers[FORCE_HEADER]);
    if (forced === undefined && cookie !== undefined) forced = this.named(cookieValue(cookie, FORCE_COOKIE));
    if (forced !== undefined) {
      return { backend: table.pickFor(forced, now, undefined), target: forced, sticky: undefined };
    }
    if (this.split.sticky && cookie !== undefined) {
      const r = revisionNumber(cookieValue(cookie, this.stickyName));
      if (r !== undefined && (this.percentOf.get(r) ?? 0) > 0) {
        const b = table.pickRevision(r, now, undefined);
        if (b !== undefined) return { backend: b, target: r, sticky: undefined };
      }
    }
    const r = this.next();
    return {
      backend: table.pickFor(r, now, undefined),
      target: r,
      sticky: this.split.sticky ? this : undefined,
    };
  }

  /** The next revision by weight (smooth weighted round-robin: exact proportions, evenly spread). */
  next(): number {
    const slots = this.slots;
    let best = slots[0]!;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      s.current += s.percent;
      if (s.current > best.current) best = s;
    }
    best.current -= 100;
    return best.revision;
  }

  private named(v: string | string[] | undefined): number | undefined {
    if (typeof v !== 'string') return undefined;
    if (v === 'canary') return this.split.canary;
    if (v === 'stable') return this.split.stable;
    return revisionNumber(v);
  }
}

function revisionNumber(v: string | undefined): number | undefined {
  if (v === undefined || v === '' || v.length > 9) return undefined;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(v);
}

/** The value of one cookie in a `Cookie` header, without splitting the header into a map. */
export function cookieValue(header: string, name: string): string | undefined {
  const n = header.length;
  let i = 0;
  while (i < n) {
    while (i < n && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 9)) i++;
    let end = header.indexOf(';', i);
    if (end < 0) end = n;
    if (header.startsWith(name, i) && header.charCodeAt(i + name.length) === 61 /* = */) {
      let v = header.slice(i + name.length + 1, end).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    i = end + 1;
  }
  return undefined;
}
