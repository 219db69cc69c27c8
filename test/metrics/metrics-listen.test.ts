import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { listenMetrics, parseMetricsListen } from '../../src/metrics/metrics-server.js';
import { Scrape } from '../../src/metrics/scrape.js';

describe('--metrics-listen', () => {
  it('takes HOST:PORT with an explicit host, and says what it expected otherwise', () => {
    expect(parseMetricsListen('--metrics-listen', '127.0.0.1:9464')).toEqual({
      host: '127.0.0.1',
      port: 9464,
    });
    expect(parseMetricsListen('--metrics-listen', '[::1]:0')).toEqual({ host: '::1', port: 0 });
    for (const bad of ['9464', ':9464', '127.0.0.1', '127.0.0.1:99999', 'localhost:http'])
      expect(() => parseMetricsListen('--metrics-listen', bad)).toThrow(
        new InputError(`--metrics-listen: expected HOST:PORT such as 127.0.0.1:9464, found "${bad}"`),
      );
  });

  it('serves only GET /metrics, with the exposition content type', async () => {
    const scrape = new Scrape();
    const l = await listenMetrics(scrape, { host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }));
    try {
      const ok = await fetch(`http://${l.address}/metrics`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      await ok.text();
      expect((await fetch(`http://${l.address}/v1/status`)).status).toBe(404);
      expect((await fetch(`http://${l.address}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await l.close();
    }
  });
});
