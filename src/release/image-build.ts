import { readdirSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { DriverError } from '../core/errors.js';
import { call, vendorMessage } from '../runtime/docker/client.js';
import type { RegistryAuthSpec } from '../spec/docker.js';

/**
 * Builds and pushes a release's image through the Docker Engine API (the daemon does the work; nothing
 * shells out to `docker`). Progress streams end with an `error` event rather than a failed request when
 * a Dockerfile step or a push fails: both are read to the end and turned into a DriverError.
 */
interface ProgressEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

function follow(docker: Docker, stream: NodeJS.ReadableStream, onLine: (s: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: ProgressEvent[]) => {
        if (err) return reject(err);
        const bad = events.find((e) => e.error || e.errorDetail);
        if (bad) return reject(new Error(bad.errorDetail?.message ?? bad.error));
        resolve();
      },
      (e: ProgressEvent) => {
        const line = (e.stream ?? e.status ?? '').trim();
        if (line) onLine(line);
      },
    );
  });
}

/** Every file under `dir`, relative, for the build context (what `docker build` would send). */
function contextFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => !d.isDirectory())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
}

export async function buildImage(
  docker: Docker,
  endpoint: string,
  b: { image: string; tags: string[]; context: string; dockerfile: string; args: Record<string, string> },
  onLine: (s: string) => void,
): Promise<void> {
  const [first, ...rest] = b.tags.map((t) => `${b.image}:${t}`);
  const stream = await call(endpoint, `build ${first}`, () =>
    docker.buildImage(
      { context: b.context, src: contextFiles(b.context) },
      { t: first, dockerfile: b.dockerfile, buildargs: b.args, rm: true, forcerm: true },
    ),
  );
  try {
    await follow(docker, stream, onLine);
  } catch (err) {
    throw new DriverError('docker', `build of ${first} failed: ${vendorMessage(err)}`, err);
  }
  for (const ref of rest) {
    const tag = ref.slice(b.image.length + 1);
    await call(endpoint, `tag ${ref}`, () => docker.getImage(first!).tag({ repo: b.image, tag }));
  }
}

export async function pushImage(
  docker: Docker,
  endpoint: string,
  p: { image: string; tags: string[]; auth: RegistryAuthSpec | undefined },
  onLine: (s: string) => void,
): Promise<void> {
  for (const tag of p.tags) {
    const ref = `${p.image}:${tag}`;
    const stream = await call(endpoint, `push ${ref}`, () =>
      docker.getImage(ref).push({ tag, ...(p.auth ? { authconfig: { ...p.auth } } : {}) }),
    );
    try {
      await follow(docker, stream, onLine);
    } catch (err) {
      // The registry's words, never the credentials (dockerode sends them in a header, not the message).
      throw new DriverError('docker', `push of ${ref} failed: ${vendorMessage(err)}`, err);
    }
  }
}
