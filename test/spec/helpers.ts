import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect } from 'vitest';
import { SpecError, type SpecIssue } from '../../src/core/errors.js';
import { type LoadOptions, loadSpecFile } from '../../src/spec/load.js';

const made: string[] = [];
// Every tree a test file made is removed after that file.
afterAll(async () => {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Writes `files` (relative path → text) into a fresh temporary directory and returns it. */
export async function tree(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'baton-spec-'));
  made.push(dir);
  for (const [name, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), body);
  }
  return dir;
}

/** Loads `baton.yaml` from a fresh tree made of `files`. */
export async function load(files: Record<string, string | Buffer>, opts: LoadOptions = {}) {
  const dir = await tree(files);
  return loadSpecFile(path.join(dir, 'baton.yaml'), { env: {}, ...opts });
}

/** The issues loading must fail with; `file` is made relative to the tree (`baton.yaml`, `inc/a.yaml`). */
export async function issuesOf(
  files: Record<string, string | Buffer>,
  opts: LoadOptions = {},
): Promise<SpecIssue[]> {
  const dir = await tree(files);
  const err = await loadSpecFile(path.join(dir, 'baton.yaml'), { env: {}, ...opts }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SpecError);
  return (err as SpecError).issues.map((i) => ({
    ...i,
    file: path.isAbsolute(i.file) ? path.relative(dir, i.file) : i.file,
  }));
}

/** A minimal valid service, indented to sit under `services:`. */
export const WEB = `  web:
    command: node
    args: [server.js]
    traffic:
      listen: 127.0.0.1:8080
`;
