import { existsSync, readFileSync } from 'node:fs';
import { DEFAULT_API, dataPaths } from '../api/paths.js';
import { BatonError, UnavailableError } from '../core/errors.js';
import { caFetch } from './ca-fetch.js';

export interface GlobalOptions {
  dataDir: string;
  api?: string | undefined;
  token?: string | undefined;
}

/** The CLI's view of the control plane's API. */
export class ApiClient {
  private constructor(
    readonly url: string,
    private readonly token: string | undefined,
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  /** An environment's control plane (`cli/environment.ts`): its URL, token and CA file. */
  static forTarget(t: { url: string; token: string | undefined; caFile: string | undefined }): ApiClient {
    return new ApiClient(t.url, t.token, t.caFile ? caFetch(t.caFile) : fetch);
  }

  /** Address: --api / BATON_API, else what the daemon wrote into the data dir, else the default. */
  static from(opts: GlobalOptions): ApiClient {
    const paths = dataPaths(opts.dataDir);
    let url = opts.api ? (opts.api.startsWith('http') ? opts.api : `http://${opts.api}`) : undefined;
    if (!url && existsSync(paths.api))
      url = (JSON.parse(readFileSync(paths.api, 'utf8')) as { url: string }).url;
    url ??= `http://${DEFAULT_API}`;
    const token =
      opts.token ?? (existsSync(paths.token) ? readFileSync(paths.token, 'utf8').trim() : undefined);
    return new ApiClient(url.replace(/\/$/, ''), token);
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetcher(`${this.url}${path}`, {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new UnavailableError(
        `cannot reach the control plane at ${this.url}: is \`baton serve\` running?`,
        err,
      );
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
          `the control plane at ${this.url} refused the token (HTTP 401): check --token, BATON_TOKEN or the environment's token`,
          { exitCode: 3 },
        );
      const exitCode = res.status === 400 || res.status === 404 ? 2 : 1;
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

  /** Streams plain text to `write` until the server ends it or `signal` aborts. */
  async text(path: string, write: (s: string) => void): Promise<void> {
    const res = await this.request('GET', path);
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
      write(decoder.decode(chunk, { stream: true }));
  }
}
