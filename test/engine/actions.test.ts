import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActionContext, runAction, runCheck } from '../../src/engine/actions.js';

const ctx: ActionContext = {
  service: 'web',
  revision: 3,
  fromRevision: 2,
  deployment: 'abc',
  hook: 'pre-deploy',
  strategy: 'rolling',
};

describe('hook actions and checks', () => {
  let server: Server;
  let base: string;
  const received: Array<{ method: string; body: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c;
      });
      req.on('end', () => {
        received.push({ method: req.method!, body });
        if (req.url === '/fail') res.writeHead(500).end('boom');
        else res.writeHead(200).end('all good: v3');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('a webhook gets the context as a JSON POST; a non-2xx answer is a failure with its body', async () => {
    const ok = await runAction({ url: `${base}/hook`, method: 'POST', timeout: 2000 }, ctx);
    expect(ok).toMatchObject({ ok: true, detail: `POST ${base}/hook: HTTP 200` });
    expect(JSON.parse(received.at(-1)!.body)).toEqual(ctx);
    const bad = await runAction({ url: `${base}/fail`, method: 'POST', timeout: 2000 }, ctx);
    expect(bad).toMatchObject({ ok: false, output: 'boom' });
  });

  it('a command gets BATON_* variables and the context on stdin; a timeout kills it', async () => {
    const r = await runAction(
      {
        command: 'sh',
        args: ['-c', 'read line; echo "$BATON_SERVICE $BATON_REVISION $BATON_FROM_REVISION $line"'],
        timeout: 5000,
      },
      ctx,
    );
    expect(r.ok).toBe(true);
    expect(r.output).toBe(`web 3 2 ${JSON.stringify(ctx)}`);
    const slow = await runAction({ command: 'sleep', args: ['10'], timeout: 200 }, ctx);
    expect(slow).toMatchObject({ ok: false, detail: 'timed out after 200ms' });
    const missing = await runAction({ command: '/nonexistent/hook', args: [], timeout: 1000 }, ctx);
    expect(missing.ok).toBe(false);
  });

  it('an HTTP check wants the status and the text it names', async () => {
    const check = (bodyContains?: string, status = 200) =>
      runCheck(
        {
          http: { url: `${base}/x`, method: 'GET', status, ...(bodyContains ? { bodyContains } : {}) },
          timeout: 2000,
        },
        ctx,
      );
    expect((await check('v3')).ok).toBe(true);
    expect(await check('v4')).toMatchObject({
      ok: false,
      detail: `GET ${base}/x: the answer does not contain "v4"`,
    });
    expect(await check(undefined, 204)).toMatchObject({
      ok: false,
      detail: `GET ${base}/x: HTTP 200, expected 204`,
    });
    const down = await runCheck(
      { http: { url: 'http://127.0.0.1:1/', method: 'GET', status: 200 }, timeout: 1000 },
      ctx,
    );
    expect(down.ok).toBe(false);
  });
});
