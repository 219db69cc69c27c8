import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Instance, InstanceState } from '../../src/core/types.js';
import type { Runtime, StartRequest } from '../../src/runtime/runtime.js';
import type { ServiceSpec } from '../../src/spec/schema.js';
import { httpGet } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

export interface RuntimeHarness {
  runtime: Runtime;
  /** A spec whose instances run the hello app (or behave like it): `GET /` answers `hello from <VERSION>`. */
  spec: (env?: Record<string, string>) => ServiceSpec;
  /** Kills every instance left and deletes temporary files. */
  cleanup: () => Promise<void>;
  /** Makes an instance exit as if it crashed (default: SIGKILL to its pid). */
  crash?: (instance: Instance) => Promise<void>;
  /** False when a restart may give the instance another address (docker: a new host port). Default true. */
  restartKeepsAddress?: boolean;
}

/** The behaviour every Runtime implementation shares. Run it from an ~8-line test file per implementation. */
export function runRuntimeContract(name: string, make: () => Promise<RuntimeHarness>): void {
  describe(`${name} runtime contract`, () => {
    let h: RuntimeHarness;
    let seq = 0;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.cleanup();
    });

    const request = (env?: Record<string, string>, over: Partial<StartRequest> = {}): StartRequest => ({
      id: `web-${process.pid}-${++seq}`,
      service: 'web',
      revision: 1,
      deployment: 'd1',
      spec: h.spec({ VERSION: 'v1', ...env }),
      ...over,
    });
    const hello = (i: Instance) =>
      waitFor(async () => (await httpGet(i.host, i.port, '/')).body.includes('hello from'));
    const state = async (id: string) => (await h.runtime.get(id))?.state;
    const crash = (i: Instance) =>
      h.crash ? h.crash(i) : Promise.resolve(void process.kill(i.pid!, 'SIGKILL'));

    it('starts an instance that is listed as running with an address and answers on it', async () => {
      const req = request();
      const started = await h.runtime.start(req);
      expect(started).toMatchObject({
        id: req.id,
        service: 'web',
        revision: 1,
        deployment: 'd1',
        state: 'running',
      });
      expect(started.port).toBeGreaterThan(0);
      expect(started.host).toBeTruthy();
      const listed = await h.runtime.list();
      expect(listed.map((i) => [i.id, i.state, i.port])).toContainEqual([req.id, 'running', started.port]);
      await hello(started);
      expect((await httpGet(started.host, started.port, '/')).body).toContain('hello from v1');
    });

    it('stops (idempotently) and removes an instance', async () => {
      const req = request();
      const i = await h.runtime.start(req);
      await hello(i);
      await h.runtime.stop(req.id, 5000);
      expect(await state(req.id)).toBe(InstanceState.Stopped);
      await expect(httpGet(i.host, i.port, '/')).rejects.toThrow();
      await h.runtime.stop(req.id, 5000);
      expect(await state(req.id)).toBe(InstanceState.Stopped);
      await h.runtime.remove(req.id);
      expect(await h.runtime.get(req.id)).toBeUndefined();
      expect((await h.runtime.list()).map((x) => x.id)).not.toContain(req.id);
      await h.runtime.remove(req.id);
    });

    it('is idempotent on id: a second start returns the same instance', async () => {
      const req = request();
      const a = await h.runtime.start(req);
      const b = await h.runtime.start(req);
      expect(b).toMatchObject({ id: a.id, port: a.port, startedAt: a.startedAt, state: 'running' });
      expect(b.pid).toBe(a.pid);
      expect((await h.runtime.list()).filter((i) => i.id === req.id)).toHaveLength(1);
    });

    it('lists by service', async () => {
      const a = await h.runtime.start(request());
      const b = await h.runtime.start(request({}, { service: 'api' }));
      expect((await h.runtime.list('api')).map((i) => i.id)).toEqual([b.id]);
      expect((await h.runtime.list('web')).map((i) => i.id)).toEqual([a.id]);
    });

    it('restarts a crashed instance (on the same address unless the runtime says otherwise)', async () => {
      const req = request();
      const i = await h.runtime.start(req);
      await hello(i);
      await crash(i);
      await waitFor(async () => (await state(req.id)) === InstanceState.Exited);
      const again = await h.runtime.restart(req.id);
      expect(again).toMatchObject({ id: req.id, state: 'running', restarts: 1 });
      if (h.restartKeepsAddress !== false) expect(again).toMatchObject({ host: i.host, port: i.port });
      expect(await h.runtime.get(req.id)).toMatchObject({ host: again.host, port: again.port });
      await hello(again);
    });

    it("keeps the app's output in its logs, with tail and follow", async () => {
      const req = request();
      const i = await h.runtime.start(req);
      await hello(i);
      const lines = await waitFor(async () => {
        const all: string[] = [];
        for await (const line of h.runtime.logs(req.id)) all.push(line);
        return all.some((l) => l.includes('listening on')) && all;
      });
      const tail: string[] = [];
      for await (const line of h.runtime.logs(req.id, { tail: 1 })) tail.push(line);
      expect(tail).toEqual(lines.slice(-1));

      const ac = new AbortController();
      const seen: string[] = [];
      const following = (async () => {
        for await (const line of h.runtime.logs(req.id, { follow: true, tail: 0, signal: ac.signal }))
          seen.push(line);
      })();
      await h.runtime.stop(req.id, 5000);
      await waitFor(() => seen.length > 0);
      ac.abort();
      await following;
    });
  });
}
