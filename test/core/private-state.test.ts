import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loosePaths, securePrivateTree } from '../../src/core/private-state.js';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('private state: the data dir and everything in it owner-only', () => {
  const dirs: string[] = [];
  const temp = () => {
    const d = mkdtempSync(join(tmpdir(), 'baton-private-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('creates a missing data dir 0700', () => {
    const root = join(temp(), 'a', 'data');
    expect(securePrivateTree(root)).toEqual([]);
    expect(mode(root)).toBe(0o700);
  });

  it('takes group and other bits off what existed, keeps owner bits, leaves symlinked targets alone', () => {
    const base = temp();
    const root = join(base, 'data');
    mkdirSync(join(root, 'logs'), { recursive: true });
    writeFileSync(join(root, 'baton.db'), '', { mode: 0o644 });
    writeFileSync(join(root, 'logs', 'x.log'), '', { mode: 0o640 });
    writeFileSync(join(root, 'hook.sh'), '', { mode: 0o755 });
    writeFileSync(join(root, 'token'), '', { mode: 0o600 });
    const outside = join(base, 'shared.txt');
    writeFileSync(outside, '', { mode: 0o644 });
    symlinkSync(outside, join(root, 'link'));
    chmodSync(root, 0o755);
    chmodSync(join(root, 'logs'), 0o755);

    expect(
      loosePaths(root)
        .map((p) => [p.path.slice(root.length), p.mode.toString(8)])
        .sort(),
    ).toEqual([
      ['', '755'],
      ['/baton.db', '644'],
      ['/hook.sh', '755'],
      ['/logs', '755'],
      ['/logs/x.log', '640'],
    ]);
    expect(securePrivateTree(root).length).toBe(5);
    expect([root, join(root, 'logs')].map(mode)).toEqual([0o700, 0o700]);
    expect(['baton.db', 'logs/x.log', 'hook.sh', 'token'].map((f) => mode(join(root, f)))).toEqual([
      0o600, 0o600, 0o700, 0o600,
    ]);
    expect(mode(outside)).toBe(0o644);
    expect(loosePaths(root)).toEqual([]);
  });
});
