import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PositionMap } from '../../src/spec/positions.js';
import { autoCertFiles, tlsFileIssues } from '../../src/spec/tls.js';
import { selfSigned } from '../helpers/certs.js';

describe('traffic.tls files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pair = selfSigned(dir, 'a', ['a.test']);
  const positions = new PositionMap();
  const issues = (tls: { cert: string; key: string }, now?: Date) =>
    tlsFileIssues(
      { web: { traffic: { listen: '127.0.0.1:1', tls: { ...tls } } } },
      join(dir, 'baton.yaml'),
      positions,
      now,
    ).map((i) => `${i.path}: ${i.message}`);

  it('a good pair passes; relative paths are taken from the spec file', () => {
    expect(issues(pair)).toEqual([]);
    expect(issues({ cert: 'a.pem', key: 'a.key' })).toEqual([]);
  });

  it('expired and not yet valid certificates are refused with their dates', () => {
    const later = new Date(Date.now() + 3 * 86_400_000);
    expect(issues(pair, later)[0]).toMatch(
      /tls\.cert: the certificate in .* is expired: valid from \d{4}-.* to \d{4}-/,
    );
    expect(issues(pair, new Date(Date.now() - 86_400_000))[0]).toMatch(/is not yet valid/);
  });

  it('tls: auto files live under the data dir per host', () => {
    expect(autoCertFiles('/d', 'App.Test')).toEqual({
      cert: '/d/certs/app.test/cert.pem',
      key: '/d/certs/app.test/key.pem',
    });
  });
});
