import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type Docker from 'dockerode';
import { call, connectDocker, dockerEndpoint } from '../runtime/docker/client.js';
import { ensureImage, imageRef } from '../runtime/docker/image.js';
import type { DockerServiceSpec, ProcessServiceSpec } from '../spec/schema.js';

/**
 * One instance of a revision run in the foreground for debugging (`baton run`): the seed's
 * `docker run --env-file local.env`. It is not an instance of the control plane: no record, no label a
 * control plane would adopt, no route; `stop()` removes everything it made.
 */
export interface LocalInstance {
  /** Resolves with the exit code when the instance ends by itself or after `stop()`. */
  exited: Promise<number>;
  stop(): Promise<void>;
}

interface Common {
  service: string;
  env: Record<string, string>;
  port: number;
  out: NodeJS.WritableStream;
}

export function runProcess(spec: ProcessServiceSpec, baseDir: string, o: Common): LocalInstance {
  const argv = typeof spec.command === 'string' ? spec.command.split(/\s+/).filter(Boolean) : spec.command;
  // Its own process group, so a stop reaches whatever it started too.
  const child: ChildProcess = spawn(argv[0]!, [...argv.slice(1), ...spec.args], {
    cwd: spec.cwd ? path.resolve(baseDir, spec.cwd) : baseDir,
    env: { ...process.env, ...spec.env, ...o.env, PORT: String(o.port), BATON_SERVICE: o.service },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout!.pipe(o.out, { end: false });
  child.stderr!.pipe(o.out, { end: false });
  const exited = new Promise<number>((resolve) => {
    child.on('error', (e) => {
      o.out.write(`${e.message}\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 0 : 1)));
  });
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {}
  };
  return {
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), spec.stopTimeout);
      await exited;
      clearTimeout(timer);
      signalGroup('SIGKILL'); // anything of its group still there
    },
  };
}

export async function runContainer(spec: DockerServiceSpec, o: Common): Promise<LocalInstance> {
  const endpoint = dockerEndpoint();
  const docker: Docker = connectDocker(endpoint);
  await ensureImage(docker, spec, endpoint);
  const portKey = `${spec.port}/tcp`;
  const env = { ...spec.env, ...o.env, PORT: String(spec.port) };
  const argv = (v: string | string[] | undefined) =>
    typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : v;
  const entrypoint = argv(spec.entrypoint);
  const cmd = argv(spec.command);
  const container = await call(endpoint, `create a container of ${imageRef(spec)}`, () =>
    docker.createContainer({
      name: `baton-run-${o.service}-${process.pid}`,
      Image: imageRef(spec),
      Labels: { 'baton.run': o.service },
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...(entrypoint ? { Entrypoint: entrypoint } : {}),
      ...(cmd ? { Cmd: cmd } : {}),
      ExposedPorts: { [portKey]: {} },
      StopTimeout: Math.max(1, Math.ceil(spec.stopTimeout / 1000)),
      HostConfig: {
        Init: true,
        PortBindings: { [portKey]: [{ HostIp: '127.0.0.1', HostPort: String(o.port) }] },
        NetworkMode: spec.network,
      },
    }),
  );
  const remove = () => container.remove({ force: true, v: true }).catch(() => undefined);
  try {
    const logs = await container.attach({ stream: true, stdout: true, stderr: true });
    docker.modem.demuxStream(logs, o.out, o.out);
    await call(endpoint, 'start the container', () => container.start());
  } catch (e) {
    await remove();
    throw e;
  }
  const exited = container.wait().then(
    (r: { StatusCode?: number }) => r.StatusCode ?? 1,
    () => 1,
  );
  return {
    exited,
    async stop() {
      await container.stop({ t: Math.max(1, Math.ceil(spec.stopTimeout / 1000)) }).catch(() => undefined);
      await exited;
      await remove();
    },
  };
}
