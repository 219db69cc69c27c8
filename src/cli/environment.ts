import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../core/errors.js';
import type { CheckSpec } from '../spec/hooks.js';
import { loadSpecFile } from '../spec/load.js';
import { ApiClient } from './client.js';
import { client } from './context.js';

/**
 * `--env NAME`: the environment declared in baton.yaml that a command acts on. A control plane is
 * `{ url, token, caFile }` (paths relative to baton.yaml, the token read only now, so a command that
 * does not use an environment needs none of its secrets); a cluster is its NATS URLs.
 */
export type Target =
  | { kind: 'api'; name: string; url: string; token: string | undefined; caFile: string | undefined }
  | { kind: 'nats'; name: string; nats: string[] };

export interface EnvFlags {
  file: string;
  env?: string | undefined;
}

/** Adds `--env NAME` and, when the command has none, `-f FILE` (where the environment is declared; `--file` where -f is taken). */
export function envOption(cmd: Command, file: 'short' | 'long' | 'none' = 'short'): Command {
  cmd.option('--env <name>', 'act on this environment of baton.yaml (default: the local control plane)');
  const flags = file === 'short' ? '-f, --file <path>' : '--file <path>';
  if (file !== 'none') cmd.option(flags, 'spec file declaring the environment', 'baton.yaml');
  return cmd;
}

/** Reads environment `name` from the spec file (validated as a whole: a bad file exits 2). */
export async function resolveTarget(file: string, name: string): Promise<Target & { checks: CheckSpec[] }> {
  const { spec } = await loadSpecFile(file, { environment: name });
  const e = spec.environments?.[name];
  if (!e) throw new InputError(`${file} declares no environment "${name}"`);
  const rel = (p: string) => path.resolve(path.dirname(file), p);
  if (e.nats !== undefined) return { kind: 'nats', name, nats: [e.nats].flat(), checks: e.checks };
  let token: string | undefined;
  if (e.token && 'env' in e.token) {
    token = process.env[e.token.env];
    if (!token)
      throw new InputError(
        `environment ${name}: its token is read from $${e.token.env}, which is not set (a CI secret?)`,
      );
  } else if (e.token) {
    const f = rel(e.token.file);
    if (!existsSync(f)) throw new InputError(`environment ${name}: token file ${f} does not exist`);
    token = readFileSync(f, 'utf8').trim();
  }
  const api = e.api!;
  const url = (api.includes('://') ? api : `http://${api}`).replace(/\/$/, '');
  const caFile = e.ca === undefined ? undefined : rel(e.ca);
  if (caFile && !existsSync(caFile))
    throw new InputError(`environment ${name}: CA file ${caFile} does not exist`);
  return { kind: 'api', name, url, token, caFile, checks: e.checks };
}

/** The client of `--env`'s control plane, or the local one without it. Cluster environments are refused. */
export async function envClient(cmd: Command, flags: EnvFlags): Promise<ApiClient> {
  if (flags.env === undefined) return client(cmd);
  const t = await resolveTarget(flags.file, flags.env);
  if (t.kind === 'nats')
    throw new InputError(
      `environment ${t.name} is a cluster (nats): this command needs a control plane (api)`,
    );
  return ApiClient.forTarget(t);
}

/** `--env` of a cluster environment as the `--cluster --nats` flags the cluster commands take. */
export async function clusterFlags(flags: EnvFlags): Promise<{ cluster: true; nats: string } | undefined> {
  if (flags.env === undefined) return undefined;
  const t = await resolveTarget(flags.file, flags.env);
  return t.kind === 'nats' ? { cluster: true, nats: t.nats.join(',') } : undefined;
}
