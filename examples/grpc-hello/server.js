// A tiny gRPC service to deploy with Baton (`traffic.upstream: h2c`). @grpc/grpc-js and @grpc/proto-loader
// are resolved from the repo root.
//
// Env: PORT, HOST (default 127.0.0.1), VERSION, MODE=bad (every call fails with UNAVAILABLE: a bad release).
// Methods (hello.proto): hello.Greeter/SayHello (unary), hello.Greeter/CountUp (server streaming).
// SIGTERM: no new calls; calls in progress finish (streams included), then exit.
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const version = process.env.VERSION ?? 'dev';
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 50051);
const bad = process.env.MODE === 'bad';

const log = (msg) =>
  console.log(`${new Date().toISOString()} grpc-hello ${version} pid ${process.pid}: ${msg}`);

const definition = protoLoader.loadSync(fileURLToPath(new URL('hello.proto', import.meta.url)), {
  keepCase: false,
  defaults: true,
});
const { hello } = grpc.loadPackageDefinition(definition);

const unavailable = { code: grpc.status.UNAVAILABLE, details: `version ${version} is bad (MODE=bad)` };

// CountUp streams by key, ended early by Release (tests end a stream on a draining instance).
const streams = new Map();

const server = new grpc.Server();
server.addService(hello.Greeter.service, {
  sayHello(call, callback) {
    if (bad) return callback(unavailable);
    callback(null, { message: `hello ${call.request.name} from ${version}`, version });
  },
  countUp(call) {
    if (bad) {
      call.emit('error', unavailable);
      return;
    }
    const count = Math.max(0, Math.min(call.request.count, 10_000));
    const interval = Math.max(0, Math.min(call.request.intervalMs, 60_000));
    const key = call.request.key;
    let n = 0;
    let timer;
    const finish = () => {
      clearTimeout(timer);
      if (key) streams.get(key)?.delete(finish);
      if (!call.cancelled) call.end();
    };
    if (key) {
      if (!streams.has(key)) streams.set(key, new Set());
      streams.get(key).add(finish);
    }
    call.on('cancelled', () => {
      clearTimeout(timer);
      if (key) streams.get(key)?.delete(finish);
    });
    // With an interval, one message per tick; without, as fast as the client reads (backpressure).
    const next = () => {
      while (!call.cancelled && n < count) {
        n++;
        const more = call.write({ n, version });
        if (interval > 0) {
          timer = setTimeout(next, interval);
          return;
        }
        if (!more) {
          call.once('drain', next);
          return;
        }
      }
      if (n >= count) finish();
    };
    next();
  },
  release(call, callback) {
    const waiting = [...(streams.get(call.request.key) ?? [])];
    streams.delete(call.request.key);
    for (const finish of waiting) finish();
    callback(null, { released: waiting.length });
  },
});

server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    console.error(`grpc-hello ${version}: cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  }
  log(`listening on ${host}:${bound}${bad ? ' (MODE=bad: every call fails)' : ''}`);
});

let closing = false;
function shutdown(signal) {
  if (closing) return;
  closing = true;
  log(`${signal}: stopping`);
  server.tryShutdown(() => {
    log('stopped');
    process.exit(0);
  });
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
