import type {
  AuthenticationDetailsProvider,
  DefaultRequestSigner,
  HttpClient,
  HttpRequest,
} from 'oci-common';
import type { Agent } from 'undici';
import { DriverError } from '../../core/errors.js';
import type { Clock } from '../clock.js';
import { isRetryableStatus, parseRetryAfter, type RetryPolicy, retry } from '../retry.js';
import { ociCommon, undici } from './sdk.js';

export interface TransportOptions {
  auth: AuthenticationDetailsProvider;
  policy: RetryPolicy;
  /** One attempt is aborted after this long and counts as a transient failure (default 30 s). */
  attemptTimeoutMs: number;
  clock: Clock;
  random?: (() => number) | undefined;
  onRetry?: ((info: { attempt: number; delayMs: number; reason: string | undefined }) => void) | undefined;
}

/**
 * The HTTP client every OCI SDK client of Baton sends through: Baton's retry layer at the transport.
 * Retrying here, below the SDK, re-sends the very request the SDK composed, so an `opc-retry-token` the
 * SDK put on a create (ours or its own) is the same on every attempt and OCI answers a repeated create
 * with the resource the first attempt made. Each attempt is signed again and gets its own timeout.
 * 429 and 5xx answers and network errors are retried; the last answer, whatever it is, goes back to the
 * SDK, which turns a non-2xx into its `OciError`.
 *
 * Requests go through undici's own `fetch` and agent, not the global `fetch` the SDK's FetchHttpClient
 * uses: importing the undici package (v7) installs its agent as the process-wide dispatcher of Node 20's
 * built-in fetch, which then fails every request with a body ("invalid content-length header") — so it
 * is loaded here, on first use, not by every process that merely imports this module.
 */
export class RetryingHttpClient implements HttpClient {
  private readonly signer: DefaultRequestSigner;
  private readonly agent: Agent;
  private readonly fetch: typeof import('undici').fetch;

  constructor(private readonly opts: TransportOptions) {
    this.signer = new (ociCommon().DefaultRequestSigner)(opts.auth);
    const { Agent, fetch } = undici();
    this.agent = new Agent({ keepAliveTimeout: 4000 });
    this.fetch = fetch;
  }

  send(req: HttpRequest, forceExcludeBody = false): Promise<Response> {
    const body: unknown = forceExcludeBody ? undefined : req.body;
    if (body !== undefined && body !== null && typeof body !== 'string')
      return Promise.reject(new DriverError('oci', 'only JSON request bodies are supported'));
    let dropped: Response | undefined;
    return retry<Response>(
      async () => {
        // The answer of the attempt before (a 429/5xx being retried) is dropped: release its connection.
        void dropped?.body?.cancel().catch(() => undefined);
        // A fresh signature (and date: real time, never the injected clock) for every attempt.
        req.headers.set('x-date', new Date().toUTCString());
        await this.signer.signHttpRequest(
          { method: req.method, headers: req.headers, uri: req.uri, body: body ?? undefined },
          forceExcludeBody,
        );
        const res = await this.fetch(req.uri, {
          method: req.method,
          headers: Object.fromEntries(req.headers.entries()),
          body: (body as string | undefined) ?? undefined,
          signal: AbortSignal.timeout(this.opts.attemptTimeoutMs),
          dispatcher: this.agent,
        });
        dropped = res as unknown as Response;
        return dropped;
      },
      {
        policy: this.opts.policy,
        clock: this.opts.clock,
        random: this.opts.random,
        onRetry: this.opts.onRetry,
        classify: (o) => {
          if (!o.ok) return { retry: true, reason: describe(o.error) };
          const res = o.value;
          if (!isRetryableStatus(res.status)) return { retry: false };
          return {
            retry: true,
            retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), Date.now()),
            reason: `HTTP ${res.status}`,
          };
        },
      },
    );
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string } } | null;
  return e?.cause?.code ?? e?.name ?? e?.message ?? String(err);
}
