// Runs `start(port, backendPorts)` in N cluster workers (argv: port, comma-separated backend ports; env
// FLOOR_WORKERS, default 2). Node's default scheduling on Linux (the primary accepts and hands each
// connection round-robin). SIGTERM exits a worker (so --cpu-prof profiles get written).
import cluster from 'node:cluster';

export function run(start) {
  if (cluster.isPrimary) {
    for (let i = 0; i < Number(process.env.FLOOR_WORKERS ?? 2); i++) cluster.fork();
    return;
  }
  process.on('SIGTERM', () => process.exit(0));
  start(Number(process.argv[2]), process.argv[3].split(',').map(Number));
}
