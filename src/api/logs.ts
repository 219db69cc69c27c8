import type { ServerResponse } from 'node:http';
import { NotFoundError } from '../core/errors.js';
import type { EngineDeps } from '../engine/deps.js';

/**
 * Streams the output of a service's instances as text, each line prefixed with the instance id.
 * With `follow`, keeps streaming (including instances that start later) until the client goes.
 */
export async function streamLogs(
  deps: EngineDeps,
  service: string,
  opts: { follow: boolean; tail: number; signal: AbortSignal },
  res: ServerResponse,
): Promise<void> {
  const instances = await deps.runtime.list(service);
  if (!instances.length && !(await deps.repo.getService(service)))
    throw new NotFoundError(`service ${service}`);
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  const followed = new Set<string>();
  const pump = async (id: string, tail: number | undefined) => {
    followed.add(id);
    try {
      for await (const line of deps.runtime.logs(id, {
        follow: opts.follow,
        ...(tail !== undefined ? { tail } : {}),
        signal: opts.signal,
      })) {
        if (res.destroyed) return;
        res.write(`${id} | ${line}\n`);
      }
    } catch (err) {
      if (!opts.signal.aborted)
        res.write(`${id} | [baton] log stream ended: ${err instanceof Error ? err.message : err}\n`);
    }
  };
  const pumps = instances.map((i) => pump(i.id, opts.tail));
  if (opts.follow) {
    // New instances (a deploy in progress) join the stream as they appear.
    const timer = setInterval(() => {
      deps.runtime
        .list(service)
        .then((list) => {
          // An instance that appeared after the stream began is shown from its first line.
          for (const i of list) if (!followed.has(i.id)) pumps.push(pump(i.id, undefined));
        })
        .catch(() => undefined);
    }, 1000);
    opts.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
    await new Promise<void>((resolve) =>
      opts.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }
  await Promise.allSettled(pumps);
  res.end();
}
