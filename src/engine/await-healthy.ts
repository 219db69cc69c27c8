import { setTimeout as delay } from 'node:timers/promises';
import { formatDuration } from '../core/duration.js';
import { DeployFailedError } from '../core/errors.js';
import { type Instance, InstanceState, type ProbeResult } from '../core/types.js';
import { runProbe } from '../probe/probe.js';
import type { Runtime } from '../runtime/runtime.js';
import type { ProbeSpec } from '../spec/schema.js';
import type { Emit } from './events.js';

export const GATED_BY_ROUTER = "running; traffic waits for the load balancer's health check";

/** Last lines of an instance's output, to say why it died. */
async function tailLogs(runtime: Runtime, id: string, lines = 5): Promise<string> {
  const out: string[] = [];
  try {
    for await (const line of runtime.logs(id, { tail: lines })) out.push(line);
  } catch {
    return '';
  }
  return out.join('\n');
}

/** Baton's probe result, failed when the runtime's own check (an image HEALTHCHECK) does not pass yet. */
export function withRuntimeHealth(r: ProbeResult, inst: Instance): ProbeResult {
  if (!r.ok || inst.health === undefined || inst.health === 'healthy') return r;
  return { ok: false, detail: `${r.detail}, but the image HEALTHCHECK says ${inst.health}`, ms: r.ms };
}

/**
 * Probes one new instance until it passes `healthyThreshold` times in a row. Fails as soon as the
 * instance exits, or when the start timeout passes, naming the instance and the last probe result.
 */
export async function awaitHealthy(
  runtime: Runtime,
  id: string,
  probe: ProbeSpec,
  emit: Emit,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const deadline = Date.now() + probe.startTimeout;
  let passes = 0;
  let last: ProbeResult | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const inst = await runtime.get(id);
    if (!inst || inst.state !== InstanceState.Running) {
      const how = !inst
        ? 'disappeared'
        : inst.exitCode !== undefined && inst.exitCode !== null
          ? `exited with code ${inst.exitCode}`
          : inst.signal
            ? `was killed by ${inst.signal}`
            : `is ${inst.state}`;
      const logs = await tailLogs(runtime, id);
      throw new DeployFailedError(
        `instance ${id} ${how} before it became healthy${logs ? `; its last output:\n${logs}` : ''}`,
        {
          instance: id,
          reason: 'exited',
          ...(last ? { probe: last.detail } : {}),
        },
      );
    }
    // The load balancer checks it (probe.by: router): the router's own health wait gates its traffic
    // (oci-lb: backends OK before any other drains), so the control plane need not reach its address.
    if (probe.by === 'router') return { ok: true, detail: GATED_BY_ROUTER, ms: 0 };
    last = withRuntimeHealth(await runProbe(probe, { host: inst.host, port: inst.port }, signal), inst);
    emit({ type: 'probe', instance: id, result: last });
    passes = last.ok ? passes + 1 : 0;
    if (passes >= probe.healthyThreshold) return last;
    if (Date.now() >= deadline) {
      throw new DeployFailedError(
        `instance ${id} did not pass its probe within ${formatDuration(probe.startTimeout)}; last probe: ${last.detail}`,
        { instance: id, reason: 'probe', probe: last.detail },
      );
    }
    // Probe faster than the steady-state interval while starting: the switch waits on this.
    await delay(Math.min(probe.interval, 250, Math.max(0, deadline - Date.now())), undefined, { signal });
  }
}
