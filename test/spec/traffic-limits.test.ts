import { describe, expect, test } from 'vitest';
import { routeConfigOf } from '../../src/router/route-config.js';
import { issuesOf, load } from './helpers.js';

const withTraffic = (extra: string) => `services:
  web:
    command: node
    traffic:
      listen: 127.0.0.1:8080
${extra}`;

describe('traffic.timeouts and traffic.maxBodySize', () => {
  test('absent: the route carries no limits (the proxy defaults apply)', async () => {
    const { spec } = await load({ 'baton.yaml': withTraffic('') });
    expect(routeConfigOf('web', spec.services.web!.traffic).limits).toBeUndefined();
  });

  test('durations and a size reach the route config', async () => {
    const { spec } = await load({
      'baton.yaml': withTraffic(
        '      timeouts: {requestHead: 5s, connect: 2s, response: 2m}\n      maxBodySize: 10mb\n',
      ),
    });
    expect(routeConfigOf('web', spec.services.web!.traffic).limits).toEqual({
      headTimeoutMs: 5000,
      connectTimeoutMs: 2000,
      responseTimeoutMs: 120_000,
      maxBodyBytes: 10 * 1024 * 1024,
    });
  });

  test('bad values name the file, line and field', async () => {
    const issues = await issuesOf({
      'baton.yaml': withTraffic('      timeouts: {response: soon, idle: 5s}\n      maxBodySize: huge\n'),
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          file: 'baton.yaml',
          path: 'services.web.traffic.timeouts.response',
          message: expect.stringMatching(/expected a duration .* traffic\.timeouts\.response, found "soon"/),
        }),
        expect.objectContaining({
          file: 'baton.yaml',
          path: 'services.web.traffic.maxBodySize',
          message: expect.stringMatching(/expected a size such as 512kb, 10mb or 1gb .* found "huge"/),
        }),
      ]),
    );
    for (const i of issues) expect(i.line).toBe(6 + (i.path.endsWith('maxBodySize') ? 1 : 0));
    expect(issues.some((i) => /idle/.test(i.message))).toBe(true);
  });
});

describe('traffic.upstream', () => {
  test('absent: HTTP/1.1 (nothing in the route); h2c reaches the route config', async () => {
    const plain = await load({ 'baton.yaml': withTraffic('') });
    expect(routeConfigOf('web', plain.spec.services.web!.traffic).upstream).toBeUndefined();
    const { spec } = await load({ 'baton.yaml': withTraffic('      upstream: h2c\n') });
    expect(routeConfigOf('web', spec.services.web!.traffic).upstream).toBe('h2c');
  });
});
