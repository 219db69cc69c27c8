// The floor of any Node HTTP/1.1 proxy: plain sockets, both directions parsed by node's own llhttp
// binding (`_http_common`'s HTTPParser, an internal API: a measurement, not a design), heads written as
// strings, bodies passed through (re-chunked when the backend gives no length), one upstream connection
// per client connection. GET-only minimal: no limits, timeouts, upgrades, errors beyond closing.

import { HTTPParser, methods } from 'node:_http_common';
import net from 'node:net';
import { run } from './cluster.mjs';

const HEAD = HTTPParser.kOnHeadersComplete | 0;
const BODY = HTTPParser.kOnBody | 0;
const DONE = HTTPParser.kOnMessageComplete | 0;

run((port, backends) => {
  let next = 0;
  net
    .createServer({ noDelay: true }, (client) => {
      const up = net.connect({ port: backends[next++ % backends.length], host: '127.0.0.1', noDelay: true });
      const requests = new HTTPParser();
      requests.initialize(HTTPParser.REQUEST, {}, 0, 0);
      const responses = new HTTPParser();
      responses.initialize(HTTPParser.RESPONSE, {}, 0, 0);
      const address = client.remoteAddress;
      let chunked = false;
      let keepAlive = true;
      requests[HEAD] = (_maj, _min, headers, method, url, _s, _t, _u, keep) => {
        let head = `${methods[method]} ${url} HTTP/1.1\r\n`;
        for (let i = 0; i < headers.length; i += 2) {
          if (headers[i].toLowerCase() !== 'connection') head += `${headers[i]}: ${headers[i + 1]}\r\n`;
        }
        keepAlive = keep;
        up.write(`${head}x-forwarded-for: ${address}\r\n\r\n`);
        return 0;
      };
      requests[BODY] = (b) => up.write(b);
      requests[DONE] = () => {};
      responses[HEAD] = (_maj, _min, headers, _m, _u, status, text) => {
        let head = `HTTP/1.1 ${status} ${text}\r\n`;
        let length = false;
        for (let i = 0; i < headers.length; i += 2) {
          const lower = headers[i].toLowerCase();
          if (lower === 'connection' || lower === 'keep-alive' || lower === 'transfer-encoding') continue;
          if (lower === 'content-length') length = true;
          head += `${headers[i]}: ${headers[i + 1]}\r\n`;
        }
        chunked = !length;
        if (chunked) head += 'transfer-encoding: chunked\r\n';
        if (!keepAlive) head += 'connection: close\r\n';
        client.write(`${head}\r\n`);
        return 0;
      };
      responses[BODY] = (b) => {
        if (chunked) client.write(`${b.length.toString(16)}\r\n`);
        const more = client.write(b);
        if (chunked) client.write('\r\n');
        if (!more) {
          up.pause();
          client.once('drain', () => up.resume());
        }
      };
      responses[DONE] = () => {
        if (chunked) client.write('0\r\n\r\n');
        if (!keepAlive) client.end();
      };
      client.on('data', (d) => {
        if (requests.execute(d) instanceof Error) client.destroy();
      });
      up.on('data', (d) => {
        if (responses.execute(d) instanceof Error) client.destroy();
      });
      client.on('close', () => up.destroy());
      up.on('close', () => client.destroy());
      client.on('error', () => {});
      up.on('error', () => {});
    })
    .listen(port, '127.0.0.1');
});
