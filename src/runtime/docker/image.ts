import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { DriverError } from '../../core/errors.js';
import type { DockerServiceSpec } from '../../spec/schema.js';
import { call, statusOf, vendorMessage } from './client.js';

export const imageRef = (spec: Pick<DockerServiceSpec, 'image' | 'tag'>): string =>
  `${spec.image}:${spec.tag}`;

/** Whether the image is present locally. */
export async function hasImage(docker: Docker, ref: string, endpoint: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    return call(endpoint, `inspect image ${ref}`, () => Promise.reject(err));
  }
}

/**
 * Makes `image:tag` present according to `pull`: `missing` pulls when absent, `always` pulls every
 * time, `never` only checks. A missing image or a failed pull is a DriverError naming the image.
 */
export async function ensureImage(
  docker: Docker,
  spec: DockerServiceSpec,
  endpoint: string,
  log?: Logger,
): Promise<void> {
  const ref = imageRef(spec);
  const present = spec.pull === 'always' ? false : await hasImage(docker, ref, endpoint);
  if (present) return;
  const fail = (why: string, cause?: unknown) =>
    new DriverError('docker', `image ${ref} not found locally and could not be pulled: ${why}`, cause);
  if (spec.pull === 'never') throw fail('pull: never');
  log?.info({ image: ref }, 'pulling image');
  try {
    await pull(docker, ref, spec.registryAuth);
  } catch (err) {
    // `always` with a local copy and an unreachable registry: say so, do not start an old image silently.
    throw fail(vendorMessage(err), err);
  }
  if (!(await hasImage(docker, ref, endpoint)))
    throw fail('the pull reported no error but the image is absent');
}

/** Pulls and follows the progress stream to its end; an error inside the stream rejects. */
async function pull(docker: Docker, ref: string, auth: DockerServiceSpec['registryAuth']): Promise<void> {
  const stream = await docker.pull(ref, auth ? { authconfig: { ...auth } } : {});
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        if (err) return reject(err);
        const bad = events.find((e) => e.error || e.errorDetail);
        if (bad) return reject(new Error(bad.errorDetail?.message ?? bad.error));
        resolve();
      },
    );
  });
}
