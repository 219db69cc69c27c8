import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { statusOf } from './client.js';
import { LABEL, MANAGED_BY } from './labels.js';

export interface PurgeOptions {
  /** Containers younger than this are left alone: a deploy may have created them a moment ago. */
  minAgeMs?: number;
  /** Seconds between SIGTERM and SIGKILL for a running stray. */
  stopSeconds?: number;
  logger?: Logger | undefined;
  now?: number;
}

/**
 * Choria Hoist's purge: removes the containers labelled `baton.managed-by=baton` for which `keep(labels)`
 * is false (stopping running ones first) and returns their names. A container without that label is
 * never looked at: the label query is the only way in.
 */
export async function purgeUnmanaged(
  docker: Docker,
  keep: (labels: Record<string, string>) => boolean,
  opts: PurgeOptions = {},
): Promise<string[]> {
  const { minAgeMs = 0, stopSeconds = 10, logger, now = Date.now() } = opts;
  const found = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL.managedBy}=${MANAGED_BY}`] },
  });
  const strays = found.filter(
    (c) =>
      c.Labels?.[LABEL.managedBy] === MANAGED_BY && // the daemon filtered; checked again on purpose
      now - c.Created * 1000 >= minAgeMs &&
      !keep(c.Labels),
  );
  const removed: string[] = [];
  await Promise.all(
    strays.map(async (c) => {
      const name = c.Names?.[0]?.replace(/^\//, '') ?? c.Id;
      const container = docker.getContainer(c.Id);
      try {
        if (c.State === 'running') await container.stop({ t: stopSeconds }).catch(ignore304);
        await container.remove({ force: true, v: true });
        removed.push(name);
        logger?.info({ container: name, labels: c.Labels }, 'purged a container of no desired revision');
      } catch (err) {
        if (statusOf(err) === 404) return;
        logger?.warn({ container: name, err }, 'cannot purge container');
      }
    }),
  );
  return removed.sort();
}

function ignore304(err: unknown): void {
  if (statusOf(err) !== 304 && statusOf(err) !== 404) throw err;
}
