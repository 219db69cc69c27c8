import type { Command } from 'commander';
import { defaultDataDir } from '../api/paths.js';
import { BatonError, SpecError } from '../core/errors.js';
import { ApiClient, type GlobalOptions } from './client.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: Io = {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
};

export function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals<{ dataDir?: string; api?: string; token?: string; ca?: string }>();
  return {
    dataDir: o.dataDir ?? defaultDataDir(),
    api: o.api ?? process.env.BATON_API,
    token: o.token ?? process.env.BATON_TOKEN,
    caFile: o.ca ?? process.env.BATON_CA,
  };
}

export const client = (cmd: Command) => ApiClient.from(globals(cmd));

/** Runs a command body; maps errors to their message and exit code (2 bad input, 1 failed, 3 unreachable). */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | undefined>) {
  return async (...args: A): Promise<void> => {
    const cmd = args[args.length - 1] as Command;
    const json = Boolean(cmd.opts<{ json?: boolean }>().json);
    try {
      process.exitCode = (await fn(...args)) ?? 0;
    } catch (err) {
      if (err instanceof BatonError) {
        if (json) stdio.out(JSON.stringify({ ok: false, error: err.toJSON() }, null, 2));
        else if (err instanceof SpecError) stdio.err(`error: invalid configuration\n${err.message}`);
        else stdio.err(`error: ${err.message}`);
        process.exitCode = err.exitCode;
      } else {
        stdio.err(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        process.exitCode = 1;
      }
    }
  };
}
