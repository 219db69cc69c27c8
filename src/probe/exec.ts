import { spawn } from 'node:child_process';
import type { ProbeSpec } from '../spec/schema.js';

export type ExecProbeSpec = NonNullable<ProbeSpec['exec']>;

const MAX_STDERR = 4096;
const MAX_LINE = 200;

/**
 * Runs a command; healthy when it exits 0. `PORT` and `HOST` of the target are in its environment.
 * With `args`, the command is run directly; without, a command containing spaces is run by `/bin/sh -c`
 * (so `curl -fs http://$HOST:$PORT/health` works as written). Rejects only on abort, after killing it.
 */
export function execProbe(
  spec: ExecProbeSpec,
  target: { host: string; port: number; env?: Record<string, string> },
  signal: AbortSignal,
): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve, reject) => {
    const useShell = spec.args.length === 0 && /\s/.test(spec.command.trim());
    const [file, args] = useShell ? ['/bin/sh', ['-c', spec.command]] : [spec.command, spec.args];
    const child = spawn(file, args, {
      env: { ...process.env, ...target.env, PORT: String(target.port), HOST: target.host },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_STDERR);
    });
    const onAbort = () => {
      child.kill('SIGKILL');
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      const detail =
        err.code === 'ENOENT' ? `command not found: ${file}` : `cannot run ${file}: ${err.message}`;
      resolve({ ok: false, detail });
    });
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return;
      const line = lastLine(stderr);
      const why = sig ? `killed by ${sig}` : `exit ${code}`;
      resolve({ ok: code === 0, detail: line ? `${why}: ${line}` : why });
    });
  });
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim());
  const last = lines.filter(Boolean).pop() ?? '';
  return last.length > MAX_LINE ? `${last.slice(0, MAX_LINE - 1)}…` : last;
}
