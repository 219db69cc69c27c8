import { AsyncLocalStorage } from 'node:async_hooks';
import type { Agent } from 'node:https';
import * as acme from 'acme-client';
import axios, { type AxiosAdapter } from 'axios';

/**
 * acme-client talks through one shared axios instance. Each issuer runs its orders inside a context that
 * carries its own HTTPS agent (the extra CA trusted for its directory) and collects the CA's Retry-After,
 * so two issuers in one process never share trust, and Baton's renewal backoff, not the library's sleep,
 * decides when to try again.
 */
export interface TransportContext {
  agent?: Agent;
  /** Seconds the CA asked us to wait (429/503 Retry-After), the last one seen in this context. */
  retryAfterSec?: number;
  /**
   * The last network error (refused, reset, TLS): with its retries off, acme-client 5.4 turns one into
   * "Cannot read properties of undefined (reading 'config')", so the real cause is kept here.
   */
  networkError?: Error;
}

const context = new AsyncLocalStorage<TransportContext>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const settings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } })
    .acmeSettings;
  settings.retryMaxAttempts = 0;
  const http = axios.getAdapter('http');
  const adapter: AxiosAdapter = async (config) => {
    try {
      return await http(config);
    } catch (e) {
      const ctx = context.getStore();
      if (ctx && !(e as { response?: unknown }).response) ctx.networkError = e as Error;
      throw e;
    }
  };
  acme.axios.interceptors.request.use((config) => {
    const agent = context.getStore()?.agent;
    if (agent) config.httpsAgent = agent;
    config.adapter = adapter;
    return config;
  });
  acme.axios.interceptors.response.use((response) => {
    const ctx = context.getStore();
    if (ctx && (response.status === 429 || response.status === 503)) {
      const sec = retryAfterSeconds(response.headers['retry-after'] as string | undefined, Date.now());
      if (sec !== undefined) ctx.retryAfterSec = sec;
    }
    return response;
  });
}

/** Retry-After as seconds from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterSeconds(header: string | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export function runWithTransport<T>(ctx: TransportContext, fn: () => Promise<T>): Promise<T> {
  install();
  return context.run(ctx, fn);
}
