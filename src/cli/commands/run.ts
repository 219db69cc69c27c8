import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../core/errors.js';
import type { Revision } from '../../core/types.js';
import { readEnvFile } from '../../local-run/env-file.js';
import { freeLocalPort } from '../../local-run/free-port.js';
import { type LocalInstance, runContainer, runProcess } from '../../local-run/local-instance.js';
import type { ServiceSpec } from '../../spec/schema.js';
import { action, type Io, stdio } from '../context.js';
import { envClient, envOption } from '../environment.js';
import { selectServices } from '../spec-input.js';

interface RunFlags {
  file: string;
  env?: string;
  revision?: string;
  tag?: string;
  envFile?: string;
  port?: string;
}

/** The spec to run: a recorded revision (read from the control plane), or baton.yaml's. */
async function specToRun(cmd: Command, service: string, o: RunFlags): Promise<ServiceSpec> {
  if (o.revision !== undefined) {
    const n = Number(o.revision);
    if (!Number.isInteger(n) || n < 1)
      throw new InputError(`--revision expects a revision number, got "${o.revision}"`);
    // A read: the control plane's state is not touched. Secret values come back hidden: give them in --env-file.
    const h = await (await envClient(cmd, o)).json<{ revisions: Revision[] }>(
      'GET',
      `/v1/services/${encodeURIComponent(service)}/history?limit=1000`,
    );
    const r = h.revisions.find((x) => x.number === n);
    if (!r)
      throw new InputError(
        `${service} has no revision ${n} (kept: ${h.revisions.map((x) => x.number).join(', ')})`,
      );
    return r.spec;
  }
  const set = o.tag === undefined ? [] : [`services.${service}.tag="${o.tag}"`];
  const [s] = await selectServices({ file: o.file, env: o.env, set }, service);
  return s!.spec;
}

export function registerRun(program: Command, io: Io = stdio): void {
  envOption(
    program
      .command('run')
      .description('run one instance of a revision in the foreground, for debugging (Ctrl-C stops it)')
      .argument('<service>')
      .option('--revision <n>', 'a recorded revision (read from the control plane)')
      .option('--tag <tag>', 'docker services: this image tag instead of the spec’s')
      .option('--env-file <file>', 'KEY=VALUE lines applied over the spec’s env')
      .option('--port <port>', 'local port (default: a free one)'),
  ).action(
    action(async (service: string, o: RunFlags, cmd: Command) => {
      if (o.revision !== undefined && o.tag !== undefined)
        throw new InputError('--revision and --tag are exclusive: a revision already names its image tag');
      const port = o.port === undefined ? await freeLocalPort() : Number(o.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new InputError(`--port expects a port, got "${o.port}"`);
      const envFile = o.envFile ? readEnvFile(o.envFile) : {};
      const spec = await specToRun(cmd, service, o);
      const common = { service, env: envFile, port, out: process.stdout };
      let inst: LocalInstance;
      if (spec.runtime === 'process') inst = runProcess(spec, path.dirname(path.resolve(o.file)), common);
      else if (spec.runtime === 'docker') inst = await runContainer(spec, common);
      else
        throw new InputError(
          `baton run runs process and docker services; ${service} has runtime ${spec.runtime}`,
        );
      const what = spec.runtime === 'docker' ? `${spec.image}:${spec.tag}` : 'process';
      io.err(`${service} (${what}) at http://127.0.0.1:${port} — Ctrl-C stops it`);
      let stopping = false;
      const stop = () => {
        if (!stopping) io.err(`stopping ${service}…`);
        stopping = true;
        void inst.stop();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const code = await inst.exited;
      await inst.stop();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (stopping) {
        io.err(`${service} stopped; nothing left behind`);
        return 0;
      }
      io.err(`${service} exited with code ${code}`);
      return code === 0 ? 0 : 1;
    }),
  );
}
