import { type ClientHttp2Session, constants, connect as h2connect } from 'node:http2';

export interface H2LoadReport {
  sent: number;
  ok: number;
  failed: number;
  /** Streams the server refused unprocessed after its GOAWAY (REFUSED_STREAM), sent again on a new session. */
  refusedAndRetried: number;
  /** Sessions opened: a handoff's GOAWAY moves the client to a new one. */
  sessions: number;
  errors: string[];
}

/**
 * HTTP/2 requests at `rps` per second over one session at a time to a TLS listener (ALPN h2), as a
 * well-behaved client does: after the server's GOAWAY the next stream goes on a new session, and a stream
 * refused unprocessed (REFUSED_STREAM, RFC 9113 §8.7) is sent again once. Anything else is a failure.
 */
export function startH2Load(port: number, opts: { rps: number; host: string; ca: Buffer }) {
  const report: H2LoadReport = { sent: 0, ok: 0, failed: 0, refusedAndRetried: 0, sessions: 0, errors: [] };
  let session: ClientHttp2Session | undefined;
  const all = new Set<ClientHttp2Session>();
  const pending = new Set<Promise<void>>();
  const current = (): ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    const s = h2connect(`https://127.0.0.1:${port}`, { servername: opts.host, ca: opts.ca });
    report.sessions++;
    all.add(s);
    s.on('error', () => {});
    s.once('goaway', () => {
      if (session === s) session = undefined;
    });
    s.once('close', () => {
      all.delete(s);
      if (session === s) session = undefined;
    });
    session = s;
    return s;
  };
  const once = (): Promise<'ok' | 'refused' | string> =>
    new Promise((resolve) => {
      let req: ReturnType<ClientHttp2Session['request']>;
      try {
        req = current().request({ ':path': '/', ':authority': opts.host });
      } catch {
        // The session began closing between the check and the request: nothing was sent.
        session = undefined;
        resolve('refused');
        return;
      }
      let status = 0;
      req.on('response', (h) => {
        status = Number(h[':status']);
      });
      req.resume();
      req.setTimeout(20_000, () => req.close(constants.NGHTTP2_CANCEL));
      req.on('end', () => resolve(status === 200 ? 'ok' : `HTTP ${status}`));
      // After 'end', resolving again changes nothing; without it, the stream was cut or refused.
      req.on('close', () => {
        if (req.rstCode === constants.NGHTTP2_REFUSED_STREAM) resolve('refused');
        else resolve(`stream closed before its end (status ${status}, reset code ${req.rstCode})`);
      });
      req.on('error', () => {});
    });
  const one = async (): Promise<void> => {
    report.sent++;
    let r = await once();
    if (r === 'refused') {
      report.refusedAndRetried++;
      r = await once();
    }
    if (r === 'ok') report.ok++;
    else {
      report.failed++;
      if (report.errors.length < 5) report.errors.push(`h2: ${r}`);
    }
  };
  const timer = setInterval(() => {
    const p = one();
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }, 1000 / opts.rps);
  return {
    report,
    async stop(): Promise<H2LoadReport> {
      clearInterval(timer);
      await Promise.all(pending);
      for (const s of all) s.close();
      return report;
    },
  };
}
