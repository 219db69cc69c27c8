// The floor of Baton's HTTP/1.1 architecture: node:http server, one undici Client per client connection
// (dispatch handler, no streams), hop-by-hop `Connection`/`Keep-Alive` dropped, X-Forwarded-For added.
// No routing, counters, timeouts, drains or retries. Backends chosen round-robin per connection.
import { createServer } from 'node:http';
import { Client } from 'undici';
import { run } from './cluster.mjs';

const UPSTREAM = Symbol('upstream');

run((port, backends) => {
  let next = 0;
  createServer((req, res) => {
    const socket = req.socket;
    let client = socket[UPSTREAM];
    if (client === undefined) {
      client = new Client(`http://127.0.0.1:${backends[next++ % backends.length]}`);
      socket[UPSTREAM] = client;
      socket.once('close', () => client.destroy());
    }
    const headers = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].toLowerCase() !== 'connection') headers.push(raw[i], raw[i + 1]);
    }
    headers.push('x-forwarded-for', socket.remoteAddress);
    client.dispatch(
      { method: req.method, path: req.url, headers, body: null },
      {
        onConnect() {},
        onError() {
          res.destroy();
        },
        onHeaders(status, rawHead, _resume, text) {
          const out = [];
          for (let i = 0; i < rawHead.length; i += 2) {
            const name = rawHead[i].toString('latin1');
            const lower = name.toLowerCase();
            if (lower !== 'connection' && lower !== 'keep-alive')
              out.push(name, rawHead[i + 1].toString('latin1'));
          }
          res.writeHead(status, text, out);
          return true;
        },
        onData(chunk) {
          return res.write(chunk);
        },
        onComplete() {
          res.end();
        },
      },
    );
  }).listen(port, '127.0.0.1');
});
