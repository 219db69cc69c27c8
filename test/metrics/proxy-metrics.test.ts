import { describe, expect, it } from 'vitest';
import { registerProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import { Scrape } from '../../src/metrics/scrape.js';
import type { RouteStatus } from '../../src/router/router.js';
import { promtoolCheck, requirePromtool, sample, samples } from '../helpers/promtool.js';

const door = { role: 'main' as const, address: '127.0.0.1:8443', tls: true, accepted: 40, open: 3 };
/** Two services sharing one TLS listener (by host): each reports the listener's counters. */
const route = (service: string, certificates: RouteStatus['certificates']): RouteStatus => ({
  service,
  listen: door.address,
  backends: [],
  revisions: [],
  listeners: [{ ...door, handshakes: 37, handshakeErrors: 2 }],
  certificates,
});

describe('proxy metrics of TLS listeners', () => {
  it('counts a shared listener once, its handshakes and failed ones, and when each served certificate expires', async () => {
    const scrape = new Scrape();
    const a = { file: '/certs/a.pem', names: ['a.test'], notAfter: '2027-03-01T00:00:00.000Z' };
    const w = { file: '/certs/w.pem', names: ['*.w.test', 'w.test'], notAfter: '2027-01-15T12:00:00.000Z' };
    registerProxyMetrics(scrape, async () => [route('a', [a]), route('w', [w, a])]);
    const text = await scrape.render();
    if (requirePromtool()) expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
    const s = samples(text);
    const at = { listener: door.address, role: 'main' };
    expect(sample(s, 'baton_proxy_connections_total', at)).toBe(40);
    expect(sample(s, 'baton_proxy_connections_open', at)).toBe(3);
    expect(sample(s, 'baton_proxy_tls_handshakes_total', at)).toBe(37);
    expect(sample(s, 'baton_proxy_tls_handshake_errors_total', at)).toBe(2);
    const expiry = 'baton_proxy_certificate_expiry_timestamp_seconds';
    expect(sample(s, expiry, { file: a.file, name: 'a.test' })).toBe(Date.parse(a.notAfter) / 1000);
    expect(sample(s, expiry, { file: w.file, name: '*.w.test' })).toBe(Date.parse(w.notAfter) / 1000);
    expect([...text.matchAll(/^baton_proxy_certificate_expiry_timestamp_seconds\{/gm)].length).toBe(2);
  });

  it('plain listeners have no handshake series', async () => {
    const scrape = new Scrape();
    const plain = { role: 'main' as const, address: '127.0.0.1:8080', accepted: 5, open: 0 };
    registerProxyMetrics(scrape, async () => [
      { service: 'p', listen: plain.address, backends: [], revisions: [], listeners: [plain] },
    ]);
    const s = samples(await scrape.render());
    expect(sample(s, 'baton_proxy_connections_total', { listener: plain.address, role: 'main' })).toBe(5);
    expect([...s.keys()].some((k) => k.startsWith('baton_proxy_tls_'))).toBe(false);
  });
});
