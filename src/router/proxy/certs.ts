import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';

/** How often certificate files are looked at (two stats per pair): a replaced pair serves new connections within a poll or two. */
export const CERT_POLL_MS = 500;

/** Server names whose match a certificate remembers. */
const NAMES_REMEMBERED = 1024;

export interface CertFiles {
  cert: string;
  key: string;
}

/**
 * One certificate (cert + key files) as the proxy serves it: a secure context built from the files,
 * rebuilt when either file changes on disk (inode, size or mtime: an atomic rename is a new inode).
 * A pair that cannot be loaded (missing while an ACME order runs, half replaced, key not matching) keeps
 * the previous context, so open and new connections go on with the last good certificate.
 */
export class CertWatcher {
  context: SecureContext | undefined;
  leaf: X509Certificate | undefined;
  /** The PEM files as last loaded (a listener's default certificate for clients without SNI). */
  pem: { cert: Buffer; key: Buffer } | undefined;
  private stamp = '';
  private users = 0;
  /** Answers of `covers` for the loaded certificate (server names repeat; OpenSSL's check does not cache). */
  private readonly named = new Map<string, boolean>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly files: CertFiles,
    private readonly log: Logger,
    private readonly alpn: string[],
  ) {}

  /** Loads now if the files changed since the last load. */
  refresh(): void {
    const stamp = fileStamp(this.files.cert) + fileStamp(this.files.key);
    if (stamp === this.stamp) return;
    try {
      const cert = readFileSync(this.files.cert);
      const key = readFileSync(this.files.key);
      const context = createSecureContext({ cert, key, ALPNProtocols: this.alpn } as never);
      this.leaf = new X509Certificate(cert);
      this.named.clear();
      this.context = context;
      this.pem = { cert, key };
      if (this.stamp !== '')
        this.log.info({ cert: this.files.cert, validTo: this.leaf.validTo }, 'certificate reloaded');
      this.stamp = stamp;
    } catch (e) {
      // Logged once per state of the files; the next change tries again.
      this.log.warn(
        { cert: this.files.cert, err: (e as Error).message },
        'cannot load certificate (keeping the last good one)',
      );
      this.stamp = stamp;
    }
  }

  /** Does this certificate name `host` (wildcards as TLS has them)? */
  covers(host: string): boolean {
    if (this.leaf === undefined) return false;
    let yes = this.named.get(host);
    if (yes === undefined) {
      yes = this.leaf.checkHost(host) !== undefined;
      // Clients choose the names: the memo is bounded, and starts over when full.
      if (this.named.size >= NAMES_REMEMBERED) this.named.clear();
      this.named.set(host, yes);
    }
    return yes;
  }

  retain(): void {
    if (this.users++ === 0) {
      this.refresh();
      this.timer = setInterval(() => this.refresh(), CERT_POLL_MS);
      this.timer.unref();
    }
  }

  /** True when nobody uses it any more (the caller forgets it). */
  release(): boolean {
    if (--this.users > 0) return false;
    clearInterval(this.timer);
    return true;
  }
}

function fileStamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs};`;
  } catch {
    return 'missing;';
  }
}

/** The certificates in use in this process, shared by the services naming the same files. */
export class CertRegistry {
  private readonly byFiles = new Map<string, CertWatcher>();

  constructor(
    private readonly log: Logger,
    private readonly alpn: string[],
  ) {}

  acquire(files: CertFiles): CertWatcher {
    const k = `${files.cert}\0${files.key}`;
    let w = this.byFiles.get(k);
    if (!w) {
      w = new CertWatcher(files, this.log, this.alpn);
      this.byFiles.set(k, w);
    }
    w.retain();
    return w;
  }

  release(w: CertWatcher): void {
    if (w.release()) this.byFiles.delete(`${w.files.cert}\0${w.files.key}`);
  }
}
