import { type Dispatcher, fetch, type Response } from 'undici';
import { BatonError, UnavailableError } from '../core/errors.js';
import { type ApiConnection, dispatcherFor, localConnection, normalUrl, unreachable } from './connection.js';

export interface GlobalOptions {
  dataDir: string;
  api?: string | undefined;
  token?: string | undefined;
  caFile?: string | undefined;
}

/** The CLI's view of a control plane's API. */
export class ApiClient {
  private constructor(
    readonly url: string,
    private readonly token: string | undefined,
    private readonly dispatcher: Dispatcher | undefined,
  ) {}

  /** A client for one connection (an `environments:` entry, or the CLI's flags via `from`). */
  static connect(conn: ApiConnection): ApiClient {
    return new ApiClient(normalUrl(conn.url), conn.token, dispatcherFor(conn));
  }

  /** An environment's control plane (`cli/environment.ts`): its URL, token and CA file. */
  static forTarget(t: { url: string; token: string | undefined; caFile: string | undefined }): ApiClient {
    return ApiClient.connect({ url: t.url, token: t.token, caFile: t.caFile });
  }

  /** Address: --api / BATON_API, else what the daemon wrote into the data dir, else the default. */
  static from(opts: GlobalOptions): ApiClient {
    return ApiClient.connect(localConnection(opts));
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
    } catch (err) {
      throw new UnavailableError(unreachable(this.url, err), err);
    }
    if (!res.ok) {
      const text = await res.text();
      let parsed: { error?: { code?: string; message?: string; details?: Record<string, unknown> } } = {};
      try {
        parsed = JSON.parse(text);
      } catch {}
      const e = parsed.error;
      const code = (e?.code ?? 'DRIVER') as ConstructorParameters<typeof BatonError>[0];
      if (res.status === 401)
        throw new BatonError(
          'UNAUTHORIZED',
          `the control plane at ${this.url} refused the token (HTTP 401)${e?.message ? `: ${e.message}` : ''} — check --token, BATON_TOKEN or the environment's token`,
          { exitCode: 3 },
        );
      // 2: bad input; 3: refused (its role or scope does not allow it, or too many failed authentications).
      const exitCode =
        res.status === 400 || res.status === 404 ? 2 : res.status === 403 || res.status === 429 ? 3 : 1;
      throw new BatonError(
        code,
        e?.message ?? `${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`,
        {
          exitCode,
          ...(e?.details ? { details: e.details } : {}),
        },
      );
    }
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }

  /** Reads an NDJSON stream, calling `onEvent` per line; resolves with the last event. */
  async stream<T>(
    method: string,
    path: string,
    body: unknown,
    onEvent: (e: T) => void,
  ): Promise<T | undefined> {
    const res = await this.request(method, path, body);
    let last: T | undefined;
    let buf = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) {
          last = JSON.parse(line) as T;
          onEvent(last);
        }
        nl = buf.indexOf('\n');
      }
    }
    return last;
  }

  /**
   * Follows a server-sent event stream (`GET /v1/events`), calling `onEvent` with each event's name and
   * parsed data until it returns true (then the stream is closed) or the server ends it.
   */
  async events(path: string, onEvent: (event: string, data: unknown) => boolean | undefined): Promise<void> {
    const res = await this.request('GET', path);
    const decoder = new TextDecoder();
    let buf = '';
    const body = res.body as unknown as AsyncIterable<Uint8Array> & { cancel?: () => Promise<void> };
    for await (const chunk of body) {
      buf += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
      let end = buf.indexOf('\n\n');
      while (end >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let name = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length && onEvent(name, JSON.parse(data.join('\n')))) {
          await res.body?.cancel().catch(() => undefined);
          return;
        }
        end = buf.indexOf('\n\n');
      }
    }
  }

  /** Streams plain text to `write` until the server ends it or `signal` aborts. */
  async text(path: string, write: (s: string) => void): Promise<void> {
    const res = await this.request('GET', path);
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
      write(decoder.decode(chunk, { stream: true }));
  }
}
