import type { AuthenticationDetailsProvider } from 'oci-common';
import { DefaultRequestSigner, FetchHttpClient, type HttpClient, type HttpRequest } from 'oci-common';
import type { Clock } from '../clock.js';
import { isRetryableStatus, parseRetryAfter, type RetryPolicy, retry } from '../retry.js';

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
 * with the resource the first attempt made. Each attempt is signed again (fresh date) and gets its own
 * timeout. 429 and 5xx answers and network errors are retried; the last answer, whatever it is, goes
 * back to the SDK, which turns a non-2xx into its `OciError`.
 */
export class RetryingHttpClient implements HttpClient {
  private readonly signer: DefaultRequestSigner;

  constructor(private readonly opts: TransportOptions) {
    this.signer = new DefaultRequestSigner(opts.auth);
  }

  send(
    req: HttpRequest,
    forceExcludeBody?: boolean,
    targetService?: string,
    operationName?: string,
    timestamp?: string,
    endpoint?: string,
    apiReferenceLink?: string,
  ): Promise<Response> {
    return retry<Response>(
      async (attempt) => {
        if (attempt > 0) req.headers.set('x-date', new Date(this.opts.clock.now()).toUTCString());
        // A fresh FetchHttpClient per attempt carries this attempt's abort signal (its options are fixed).
        const http = new FetchHttpClient(this.signer, null, {
          signal: AbortSignal.timeout(this.opts.attemptTimeoutMs),
        });
        return http.send(
          req,
          forceExcludeBody,
          targetService,
          operationName,
          timestamp,
          endpoint,
          apiReferenceLink,
        );
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
          // The answer is dropped for another attempt: release its connection.
          void res.body?.cancel().catch(() => undefined);
          return {
            retry: true,
            retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), this.opts.clock.now()),
            reason: `HTTP ${res.status}`,
          };
        },
      },
    );
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string } } | null;
  return e?.cause?.code ?? e?.name ?? e?.message ?? String(err);
}
