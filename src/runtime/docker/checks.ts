import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import type { Check } from '../../core/check.js';
import type { DockerServiceSpec } from '../../spec/schema.js';
import { connectDocker, dockerEndpoint, translate } from './client.js';
import { hasImage, imageRef } from './image.js';

/**
 * What docker services need from this machine: the daemon's socket present and accessible, the daemon
 * answering, each service's image present (or pullable by its `pull` policy).
 */
export async function dockerChecks(
  services: Array<{ name: string; spec: DockerServiceSpec }>,
  endpoint: string = dockerEndpoint(),
): Promise<Check[]> {
  if (services.length === 0) return [];
  const checks: Check[] = [];
  if (endpoint.startsWith('unix://')) {
    const socket = endpoint.slice('unix://'.length);
    const st = await stat(socket).catch(() => undefined);
    if (!st?.isSocket()) {
      checks.push({
        name: 'docker socket',
        status: 'fail',
        detail: `${socket} ${st ? 'is not a socket' : 'does not exist'}`,
        fix: 'install and start Docker (Debian/Ubuntu: apt-get install -y docker.io; then dockerd & or systemctl start docker), or set DOCKER_HOST',
      });
      return checks;
    }
    const writable = await access(socket, constants.R_OK | constants.W_OK).then(
      () => true,
      () => false,
    );
    checks.push(
      writable
        ? { name: 'docker socket', status: 'ok', detail: `${socket} is accessible` }
        : {
            name: 'docker socket',
            status: 'fail',
            detail: `permission denied on ${socket}`,
            fix: 'run as root or add this user to the docker group (usermod -aG docker $USER, then log in again)',
          },
    );
    if (!writable) return checks;
  }
  const docker = connectDocker(endpoint);
  try {
    const v = (await docker.version()) as { Version?: string };
    checks.push({ name: 'docker daemon', status: 'ok', detail: `Docker ${v.Version ?? '?'} at ${endpoint}` });
  } catch (err) {
    checks.push({
      name: 'docker daemon',
      status: 'fail',
      detail: translate(err, 'ping', endpoint).message,
      fix: 'start dockerd (dockerd & or systemctl start docker)',
    });
    return checks;
  }
  for (const { name, spec } of services) {
    const ref = imageRef(spec);
    const present = await hasImage(docker, ref, endpoint).catch(() => false);
    if (present) checks.push({ name: `image of ${name}`, status: 'ok', detail: `${ref} is present` });
    else if (spec.pull === 'never')
      checks.push({
        name: `image of ${name}`,
        status: 'fail',
        detail: `${ref} is not present and pull is never`,
        fix: `build or load ${ref} (docker build -t ${ref} . / docker load), or set pull: missing`,
      });
    else
      checks.push({
        name: `image of ${name}`,
        status: 'warn',
        detail: `${ref} is not present; the deploy will pull it (pull: ${spec.pull})`,
        fix: `docker pull ${ref} now to check the registry and credentials`,
      });
  }
  return checks;
}
