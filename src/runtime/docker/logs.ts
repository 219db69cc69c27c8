import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { LogOptions } from '../runtime.js';

const HEADER = 8;

/**
 * Splits Docker's multiplexed log stream (no TTY: frames of an 8-byte header — stream type, 3 zero
 * bytes, big-endian length — then the payload) into payloads. A stream that does not start with a
 * valid header (a TTY container) is passed through as is.
 */
export async function* demux(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let buf: Buffer = Buffer.alloc(0);
  let raw: boolean | undefined;
  for await (const chunk of chunks) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    raw ??=
      buf.length >= 1 &&
      !(buf[0]! <= 2 && (buf.length < 4 || (buf[1] === 0 && buf[2] === 0 && buf[3] === 0)));
    if (raw) {
      yield buf;
      buf = Buffer.alloc(0);
      continue;
    }
    while (buf.length >= HEADER) {
      const size = buf.readUInt32BE(4);
      if (buf.length < HEADER + size) break;
      yield buf.subarray(HEADER, HEADER + size);
      buf = buf.subarray(HEADER + size);
    }
  }
}

/** Payloads as lines (a trailing partial line is yielded at the end). */
export async function* lines(payloads: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let partial = '';
  for await (const p of payloads) {
    const text = partial + p.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop()!;
    yield* parts;
  }
  if (partial) yield partial;
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  if (b.length) yield b;
}

/** The container's stdout and stderr as lines: the last `tail` (default all), then new ones with `follow`. */
export async function* containerLines(
  docker: Docker,
  id: string,
  opts: LogOptions = {},
): AsyncGenerator<string> {
  const { follow = false, tail, signal } = opts;
  const container = docker.getContainer(id);
  // Docker's default is every line; `tail` is left out for that.
  const base = { stdout: true, stderr: true, ...(tail === undefined ? {} : { tail: Math.max(0, tail) }) };
  if (!follow) {
    const buf = (await container.logs({ ...base, follow: false })) as unknown as Buffer;
    yield* lines(demux(once(buf)));
    return;
  }
  if (signal?.aborted) return;
  const stream = (await container.logs({ ...base, follow: true })) as unknown as Readable;
  const abort = () => stream.destroy();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    yield* lines(demux(stream as AsyncIterable<Buffer>));
  } catch (err) {
    if (!signal?.aborted) throw err;
  } finally {
    signal?.removeEventListener('abort', abort);
    stream.destroy();
  }
}
