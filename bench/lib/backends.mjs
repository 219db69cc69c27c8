// The benches' backends: two keep-alive Node HTTP servers in one child process. `/` answers 3 bytes,
// `/64k` answers 64 KiB (one buffer made at start), anything else as `/`.
import { spawn } from 'node:child_process';

const SOURCE = `const http=require('http');const ports=[];let n=0;const big=Buffer.alloc(65536,97);
for(let i=0;i<2;i++){const s=http.createServer((q,r)=>{if(q.url==='/64k'){r.writeHead(200,{'content-type':'application/octet-stream','content-length':big.length});r.end(big)}
else{r.writeHead(200,{'content-type':'text/plain','content-length':3});r.end('ok\\n')}});
s.keepAliveTimeout=60000;s.listen(0,'127.0.0.1',()=>{ports.push(s.address().port);if(++n===2)console.log(ports.join(','))})}`;

/** Starts the backends: `{ ports, child }` (kill the child to stop them). */
export async function startBackends() {
  const child = spawn(process.execPath, ['-e', SOURCE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise((res, rej) => {
    child.once('exit', (code) => rej(new Error(`backends exited with ${code}`)));
    child.stdout.once('data', (d) => res(String(d).trim().split(',').map(Number)));
  });
  return { ports, child };
}
