import { type FileHandle, open } from 'node:fs/promises';
import type { LogOptions } from '../runtime.js';

const CHUNK = 64 * 1024;
const POLL_MS = 200;
const NL = 0x0a;

/**
 * Lines of a log file: the last `tail` lines (default all), then, with `follow`, new lines as they are
 * appended (polled every 200 ms) until `signal` aborts. A missing file reads as empty (and is waited for).
 */
export async function* readLines(file: string, opts: LogOptions = {}): AsyncGenerator<string> {
  const { follow = false, tail, signal } = opts;
  let offset = tail === undefined ? 0 : await tailOffset(file, tail);
  let partial: Buffer = Buffer.alloc(0);
  for (;;) {
    const read = await readFrom(file, offset);
    if (read && read.end < offset) {
      // Truncated or replaced: start again from its beginning.
      offset = 0;
      partial = Buffer.alloc(0);
      continue;
    }
    if (read && read.bytes.length > 0) {
      offset = read.end;
      const data = partial.length ? Buffer.concat([partial, read.bytes]) : read.bytes;
      const cut = data.lastIndexOf(NL);
      partial = data.subarray(cut + 1);
      if (cut >= 0) yield* data.subarray(0, cut).toString('utf8').split('\n');
    }
    if (read?.more) continue;
    if (!follow || signal?.aborted) break;
    await sleep(POLL_MS, signal);
    if (signal?.aborted) break;
  }
  if (partial.length > 0 && !follow) yield partial.toString('utf8');
}

/** Byte offset where the last `n` lines start (a trailing newline ends the last line, it does not start one). */
async function tailOffset(file: string, n: number): Promise<number> {
  const fh = await openOrUndefined(file);
  if (!fh) return 0;
  try {
    if (n <= 0) return (await fh.stat()).size;
    const { size } = await fh.stat();
    let end = size;
    let newlines = 0;
    const buf = Buffer.alloc(CHUNK);
    while (end > 0) {
      const start = Math.max(0, end - CHUNK);
      const { bytesRead } = await fh.read(buf, 0, end - start, start);
      for (let i = bytesRead - 1; i >= 0; i--) {
        const at = start + i;
        if (buf[i] !== NL || at === size - 1) continue;
        if (++newlines >= n) return at + 1;
      }
      end = start;
    }
    return 0;
  } finally {
    await fh.close();
  }
}

/** Up to 1 MiB from `from`; `more` when the file holds more after it. */
async function readFrom(
  file: string,
  from: number,
): Promise<{ bytes: Buffer; end: number; more: boolean } | undefined> {
  const fh = await openOrUndefined(file);
  if (!fh) return undefined;
  try {
    const { size } = await fh.stat();
    if (size <= from) return { bytes: Buffer.alloc(0), end: size, more: false };
    const bytes = Buffer.alloc(Math.min(size - from, 16 * CHUNK));
    let got = 0;
    while (got < bytes.length) {
      const { bytesRead } = await fh.read(bytes, got, bytes.length - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { bytes: bytes.subarray(0, got), end: from + got, more: from + got < size };
  } finally {
    await fh.close();
  }
}

async function openOrUndefined(file: string): Promise<FileHandle | undefined> {
  try {
    return await open(file, 'r');
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
