// The proxies of the field bench, each started in front of the same backends with the same number of
// cores (Baton's workers, HAProxy's nbthread, nginx's worker_processes, Caddy's GOMAXPROCS), one plain
// HTTP listener and one TLS listener each (same P-256 certificate; ALPN h2 and http/1.1 where the proxy
// has HTTP/2). Each returns `{ name, plain, tls, pids(), stop() }`; `pids()` is the process tree whose
// CPU time counts.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, processTree, waitUntil } from './procs.mjs';

const ok = (port) => () =>
  fetch(`http://127.0.0.1:${port}/`).then(
    async (r) => r.ok && (await r.text()) === 'ok\n',
    () => false,
  );

function child(cmd, args, opts, logFile) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  let err = '';
  p.stderr?.on('data', (c) => {
    if (err.length < 8192) err += c;
  });
  p.on('exit', () => {
    if (logFile) writeFileSync(logFile, err);
  });
  return { p, err: () => err, alive: () => p.exitCode === null && p.signalCode === null };
}

/** HAProxy 2.6: `reuse` is its http-reuse mode (its default is `safe`). */
export async function startHaproxy({ dir, ports, cores, certs, reuse }) {
  const plain = await freePort();
  const tls = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  const servers = ports.map((p, i) => `  server b${i} 127.0.0.1:${p}`).join('\n');
  writeFileSync(
    cfg,
    `global
  maxconn 4000
  nbthread ${cores}
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse ${reuse}
frontend fe
  bind 127.0.0.1:${plain}
  default_backend be
frontend fetls
  bind 127.0.0.1:${tls} ssl crt ${certs.combined} alpn h2,http/1.1
  default_backend be
backend be
  balance roundrobin
${servers}
`,
  );
  const c = child('haproxy', ['-db', '-f', cfg]);
  await waitUntil(ok(plain), c.alive, () => `haproxy (${c.err()})`);
  return {
    name: 'haproxy',
    plain,
    tls,
    pids: () => processTree(c.p.pid),
    stop: async () => c.p.kill('SIGTERM'),
  };
}

/** nginx (Debian nginx-light): upstream keep-alive, buffers large enough that 64 KiB never touches disk. */
export async function startNginx({ dir, ports, cores, certs }) {
  const plain = await freePort();
  const tls = await freePort();
  const root = join(dir, 'nginx');
  mkdirSync(join(root, 'tmp'), { recursive: true });
  const cfg = join(root, 'nginx.conf');
  const location = `location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffer_size 16k;
      proxy_buffers 8 16k;
      proxy_max_temp_file_size 0;
    }`;
  writeFileSync(
    cfg,
    `daemon off;
master_process on;
worker_processes ${cores};
user root;
pid ${root}/nginx.pid;
error_log ${root}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${root}/tmp/body;
  proxy_temp_path ${root}/tmp/proxy;
  fastcgi_temp_path ${root}/tmp/fastcgi;
  uwsgi_temp_path ${root}/tmp/uwsgi;
  scgi_temp_path ${root}/tmp/scgi;
  upstream be {
${ports.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${plain};
    ${location}
  }
  server {
    listen 127.0.0.1:${tls} ssl http2;
    ssl_certificate ${certs.cert};
    ssl_certificate_key ${certs.key};
    ${location}
  }
}
`,
  );
  const c = child('nginx', ['-p', root, '-c', cfg, '-e', join(root, 'error.log')]);
  await waitUntil(ok(plain), c.alive, () => `nginx (${c.err()})`);
  return {
    name: 'nginx',
    plain,
    tls,
    pids: () => processTree(c.p.pid),
    stop: async () => c.p.kill('SIGQUIT'),
  };
}

/**
 * Caddy (Debian caddy 2.6): reverse_proxy, round robin; no admin endpoint, no automatic HTTPS. Both sites
 * take any Host (Caddy answers an empty 200 to a Host no site names, which is not proxying).
 */
export async function startCaddy({ dir, ports, cores, certs, host }) {
  const plain = await freePort();
  const tls = await freePort();
  const root = join(dir, 'caddy');
  mkdirSync(root, { recursive: true });
  const cfg = join(root, 'Caddyfile');
  const upstreams = ports.map((p) => `127.0.0.1:${p}`).join(' ');
  writeFileSync(
    cfg,
    `{
  admin off
  auto_https off
  default_sni ${host}
}
http://:${plain} {
  bind 127.0.0.1
  reverse_proxy ${upstreams} {
    lb_policy round_robin
  }
}
https://:${tls} {
  bind 127.0.0.1
  tls ${certs.cert} ${certs.key}
  reverse_proxy ${upstreams} {
    lb_policy round_robin
  }
}
`,
  );
  const env = {
    ...process.env,
    GOMAXPROCS: String(cores),
    HOME: root,
    XDG_DATA_HOME: root,
    XDG_CONFIG_HOME: root,
  };
  const c = child('caddy', ['run', '--config', cfg, '--adapter', 'caddyfile'], { env });
  await waitUntil(ok(plain), c.alive, () => `caddy (${c.err()})`);
  return {
    name: 'caddy',
    plain,
    tls,
    pids: () => processTree(c.p.pid),
    stop: async () => c.p.kill('SIGTERM'),
  };
}

/**
 * Baton's embedded proxy as `baton serve` runs it: its own process (a primary and `cores` workers), driven
 * over its admin socket; one service on a plain listener, one on a TLS listener (same backends).
 * `execArgv`: node flags of the primary and its workers (e.g. `--cpu-prof`); `dist`: another build of
 * Baton (a baseline measured beside this one, under `name`).
 */
export async function startBaton({ dir, ports, cores, certs, host, execArgv, dist, name = 'baton' }) {
  const root = dist ? `file://${dist}/` : new URL('../../dist/', import.meta.url).href;
  const { ProxyRouter } = await import(`${root}router/proxy/client.js`);
  const { ensureProxy, stopProxy } = await import(`${root}router/proxy/launch.js`);
  const plain = await freePort();
  const tls = await freePort();
  const data = join(dir, name);
  const started = await ensureProxy(data, { workers: cores, execArgv });
  const router = new ProxyRouter({ dataDir: data });
  const backends = ports.map((p, i) => ({ id: `b${i}`, address: `127.0.0.1:${p}`, revision: 1 }));
  await router.ensureRoute({ service: 'plain', listen: `127.0.0.1:${plain}`, drainTimeoutMs: 1000 });
  await router.addBackends('plain', backends);
  await router.ensureRoute({
    service: 'tls',
    listen: `127.0.0.1:${tls}`,
    drainTimeoutMs: 1000,
    hosts: [host],
    tls: [{ cert: certs.cert, key: certs.key }],
  });
  await router.addBackends('tls', backends);
  await waitUntil(ok(plain), () => true, 'baton proxy');
  return {
    name,
    plain,
    tls,
    pids: () => processTree(started.pid),
    stop: () => stopProxy(data),
  };
}
