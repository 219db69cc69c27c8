import { type ClientHttp2Session, connect as h2connect, type IncomingHttpHeaders } from 'node:http2';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

/** An HTTP/2 client session to a TLS listener of the proxy (self-signed certificates accepted). */
export function h2session(port: number, servername: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`https://127.0.0.1:${port}`, { servername, rejectUnauthorized: false });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

export interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on `session`; rejects when the stream is reset or the session fails. */
export function h2request(
  session: ClientHttp2Session,
  headers: Record<string, string | string[]>,
  body?: string,
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    let head: IncomingHttpHeaders = {};
    let text = '';
    req.setEncoding('utf8');
    req.on('response', (h) => {
      head = h;
    });
    req.on('data', (c: string) => {
      text += c;
    });
    req.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: text }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

/** Frame types and error codes of RFC 9113 that the raw client reads. */
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7 } as const;
export const H2_ERROR = { PROTOCOL_ERROR: 1, FLOW_CONTROL_ERROR: 3, REFUSED_STREAM: 7 } as const;

/**
 * A deliberately misbehaving HTTP/2 client for limit tests: it writes frames as told, ignoring the
 * server's settings (a well-behaved client, node's own, would queue or refuse instead). It reads only
 * frame headers and the error codes of RST_STREAM and GOAWAY; HPACK is written as literals.
 */
export class RawH2 {
  readonly resets = new Map<number, number>();
  goaway: number | undefined;
  closed = false;
  private buf = Buffer.alloc(0);
  private settled: (() => void) | undefined;
  private readonly settingsSeen: Promise<void>;

  private constructor(
    readonly socket: TLSSocket,
    private readonly ack: boolean,
  ) {
    this.settingsSeen = new Promise((r) => {
      this.settled = r;
    });
    socket.on('data', (d: Buffer) => this.read(d));
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => {});
  }

  /**
   * Connects, sends the preface and waits for the server's SETTINGS, acknowledged unless `ack` is false
   * (nghttp2 then refuses streams past the limit; once acknowledged, going past it is a connection error).
   */
  static async open(port: number, servername: string, ack = true): Promise<RawH2> {
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port,
        servername,
        ALPNProtocols: ['h2'],
        rejectUnauthorized: false,
      });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    const raw = new RawH2(socket, ack);
    socket.write(
      Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(FRAME.SETTINGS, 0, 0)]),
    );
    await raw.settingsSeen;
    return raw;
  }

  private read(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) return;
      const type = this.buf[3]!;
      const flags = this.buf[4]!;
      const stream = this.buf.readUInt32BE(5) & 0x7fffffff;
      const payload = this.buf.subarray(9, 9 + len);
      this.buf = this.buf.subarray(9 + len);
      if (type === FRAME.SETTINGS && (flags & 1) === 0) {
        if (this.ack) this.socket.write(frame(FRAME.SETTINGS, 1, 0));
        this.settled?.();
      } else if (type === FRAME.RST_STREAM) this.resets.set(stream, payload.readUInt32BE(0));
      else if (type === FRAME.GOAWAY) this.goaway = payload.readUInt32BE(4);
    }
  }

  /** A request's HEADERS frame (`end`: no body follows). */
  headers(stream: number, method: 'GET' | 'POST', path: string, authority: string, end: boolean): Buffer {
    const block = Buffer.concat([
      Buffer.from([method === 'GET' ? 0x82 : 0x83, 0x87]),
      literal(4, path),
      literal(1, authority),
    ]);
    return frame(FRAME.HEADERS, 0x4 | (end ? 0x1 : 0), stream, block);
  }

  data(stream: number, bytes: number): Buffer {
    return frame(FRAME.DATA, 0, stream, Buffer.alloc(bytes, 0x61));
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }

  close(): void {
    this.socket.destroy();
  }
}

function frame(type: number, flags: number, stream: number, payload = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** HPACK "literal without indexing, indexed name" with a short plain value. */
function literal(nameIndex: number, value: string): Buffer {
  const v = Buffer.from(value);
  if (v.length > 126) throw new Error('value too long for this test encoder');
  return Buffer.concat([Buffer.from([nameIndex, v.length]), v]);
}
