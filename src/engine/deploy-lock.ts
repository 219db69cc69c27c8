import { hostname } from 'node:os';
import { LockHeldError } from '../core/errors.js';
import { isAlive } from '../runtime/process/proc.js';
import type { EngineDeps } from './deps.js';
import { tell } from './observer.js';

export const LOCK_TTL_MS = 60_000;

/**
 * Takes a service's deploy lock for deployment `id`. A lock whose holder died on this host is taken over;
 * any other held lock refuses (LockHeldError). Both are told to the observers (lock contention metric).
 */
export async function takeDeployLock(deps: EngineDeps, service: string, id: string): Promise<void> {
  const { repo } = deps;
  const holder = { holder: deps.holder, pid: process.pid, deployment: id };
  try {
    await repo.acquireLock(service, holder, LOCK_TTL_MS);
  } catch (err) {
    const held = err instanceof LockHeldError ? await repo.getLock(service) : undefined;
    const dead = held?.pid !== undefined && held.holder.endsWith(` on ${hostname()}`) && !isAlive(held.pid);
    if (err instanceof LockHeldError)
      tell(deps.observers, (o) => o.lockHeld?.(service, dead ? 'taken_over' : 'refused'));
    if (!held || !dead) throw err;
    await repo.releaseLock(service);
    await repo.acquireLock(service, holder, LOCK_TTL_MS);
  }
}
