import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DriverError } from '../../src/core/errors.js';
import { readStateFile, writeStateFile } from '../../src/core/state-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'baton-state-file-'));
  dirs.push(d);
  return d;
};

describe('driver state files', () => {
  it('none yet is undefined; what was written is read back; owner-only; no temporary file left', () => {
    const d = dir();
    const file = join(d, 'nested', 'state.json');
    expect(readStateFile(file, 'test')).toBeUndefined();
    writeStateFile(file, { version: 1, routes: [{ service: 'web' }] });
    writeStateFile(file, { version: 1, routes: [{ service: 'api' }] });
    expect(readStateFile(file, 'test')).toEqual({ version: 1, routes: [{ service: 'api' }] });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(d, 'nested'))).toEqual(['state.json']);
  });

  it('a broken file is a DriverError naming the driver and the file, never an empty state', () => {
    const file = join(dir(), 'state.json');
    writeFileSync(file, '{"routes": [');
    expect(() => readStateFile(file, 'oci-lb')).toThrow(DriverError);
    expect(() => readStateFile(file, 'oci-lb')).toThrow(`oci-lb: state file ${file} is not valid JSON`);
  });
});
