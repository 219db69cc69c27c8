import path from 'node:path';
import type { ContainerCreateOptions } from 'dockerode';
import type { DockerServiceSpec } from '../../spec/schema.js';
import type { StartRequest } from '../runtime.js';
import { imageRef } from './image.js';
import { labelsFor } from './labels.js';

const argv = (v: string | string[] | undefined): string[] | undefined =>
  v === undefined ? undefined : typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : v;

/** `./data:/data:ro` with its host path made absolute (relative to the control plane's cwd); names stay. */
export function bind(volume: string): string {
  const [host, ...rest] = volume.split(':');
  const isPath = host!.startsWith('.') || host!.startsWith('/') || host!.startsWith('~');
  return isPath ? [path.resolve(host!), ...rest].join(':') : volume;
}

/**
 * The Engine API body that creates the container of one instance: named after the instance, labelled,
 * `port` published on 127.0.0.1 at a port Docker picks, no restart policy (Baton supervises), an init
 * process (so SIGTERM reaches the app) when the daemon has one.
 */
export function containerOptions(
  req: StartRequest,
  spec: DockerServiceSpec,
  opts: { owner: string | undefined; init: boolean },
): ContainerCreateOptions {
  const portKey = `${spec.port}/tcp`;
  const hostNetwork = spec.network === 'host';
  const env = {
    ...spec.env,
    PORT: String(spec.port),
    BATON_SERVICE: req.service,
    BATON_REVISION: String(req.revision),
    BATON_INSTANCE: req.id,
  };
  const entrypoint = argv(spec.entrypoint);
  const cmd = argv(spec.command);
  return {
    name: req.id,
    Image: imageRef(spec),
    Labels: labelsFor(req, spec.port, opts.owner),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...(entrypoint ? { Entrypoint: entrypoint } : {}),
    ...(cmd ? { Cmd: cmd } : {}),
    ...(hostNetwork ? {} : { ExposedPorts: { [portKey]: {} } }),
    ...(spec.healthcheck === 'ignore' ? { Healthcheck: { Test: ['NONE'] } } : {}),
    StopTimeout: Math.max(1, Math.ceil(spec.stopTimeout / 1000)),
    HostConfig: {
      Init: opts.init,
      RestartPolicy: { Name: 'no' },
      NetworkMode: spec.network,
      ...(hostNetwork ? {} : { PortBindings: { [portKey]: [{ HostIp: '127.0.0.1', HostPort: '' }] } }),
      ...(spec.volumes.length ? { Binds: spec.volumes.map(bind) } : {}),
      ...(spec.logDriver ? { LogConfig: { Type: spec.logDriver.type, Config: spec.logDriver.options } } : {}),
    },
  };
}
