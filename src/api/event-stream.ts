import { UnavailableError } from '../core/errors.js';
import type { HubEvent } from '../dashboard/event-hub.js';
import { requireService, sees } from './access.js';
import type { Handler } from './routes.js';

/** A client further behind than this is cut off (it reconnects and reloads) rather than buffered forever. */
const MAX_BUFFERED = 1024 * 1024;
const HEARTBEAT_MS = 15_000;

/**
 * `GET /v1/events[?service=NAME]`: server-sent events of the services the token sees — `deploy`
 * (every deploy event, as the deploy stream carries it, with service and deployment) and `sample`
 * (a new chart point). The dashboard follows it; so can any client following a deploy.
 */
export const events: Handler = async (ctx, { req, res, url, principal, stillAuthorized }) => {
  const h = ctx.hub;
  if (!h) throw new UnavailableError('this control plane has no event stream');
  const only = url.searchParams.get('service');
  if (only) requireService(principal, only, 'follow the events');
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  let seq = 0;
  const send = (e: HubEvent) => {
    if (res.writableLength > MAX_BUFFERED) {
      res.destroy();
      return;
    }
    const { kind, ...data } = e;
    res.write(`id: ${++seq}\nevent: ${kind}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const unsubscribe = h.subscribe((s) => (only ? s === only : sees(principal, s)), send);
  // `ready` says the subscription is in place: a client that saw it misses no later event.
  res.write('event: ready\ndata: {}\n\n');
  const beat = setInterval(() => {
    res.write(': keep-alive\n\n');
    // A revoked or expired token, or an ended session, ends the stream (a browser reconnects and is refused).
    stillAuthorized?.().then(
      (ok) => ok || res.end(),
      () => res.end(),
    );
  }, ctx.eventsHeartbeatMs ?? HEARTBEAT_MS);
  await new Promise<void>((resolve) => {
    const done = () => {
      clearInterval(beat);
      unsubscribe();
      resolve();
    };
    req.once('close', done);
    res.once('close', done);
  });
};
