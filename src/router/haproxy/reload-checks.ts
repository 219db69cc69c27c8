import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Check } from '../../core/check.js';
import { parseServersState, SLOT_PREFIX, slotNames } from './slots.js';
import { runBatch } from './socket.js';
import { parseInfo } from './stat.js';

const TEMPLATE = `server-template ${SLOT_PREFIX} 1-32 127.0.0.1:1 disabled check inter 1s fall 2 rise 1`;

/** What HAProxy's own config says about the server-state file, when this user can read it. */
interface LoadedState {
  file?: string | undefined;
  loaded: boolean;
}

/**
 * HAProxy's config as its process was started with it (`-f` files or directories, from
 * /proc/<pid>/cmdline): undefined when the process is not on this machine or not readable here.
 */
function readConfig(pid: string): string | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    let text = '';
    args.forEach((a, i) => {
      if (args[i - 1] !== '-f') return;
      const p = isAbsolute(a) ? a : join(cwd, a);
      const files = statSync(p).isDirectory()
        ? readdirSync(p)
            .filter((f) => f.endsWith('.cfg'))
            .sort()
            .map((f) => join(p, f))
        : [p];
      for (const f of files) text += `${readFileSync(f, 'utf8')}\n`;
    });
    return text || undefined;
  } catch {
    return undefined;
  }
}

function stateConfig(cfg: string): LoadedState {
  const word = (kw: string) => new RegExp(`^\\s*${kw}\\s+(\\S+)`, 'm').exec(cfg)?.[1];
  const base = word('server-state-base');
  const file = word('server-state-file');
  return {
    file: file && base && !isAbsolute(file) ? join(base, file) : file,
    loaded: /^\s*load-server-state-from-file\s+global\b/m.test(cfg),
  };
}

/**
 * Whether a reload or restart of this HAProxy keeps Baton's servers of a backend: `server-template`
 * slots (disabled, no weight) in the backend, `traffic.router.serverStateFile` set, and — when HAProxy
 * runs on this machine and its config is readable — `server-state-file` naming that file and
 * `load-server-state-from-file global`. Each finding says the exact line to add.
 */
export async function reloadCheck(
  socket: string,
  service: string,
  backend: string,
  stateFile: string | undefined,
): Promise<Check> {
  const name = `reloads of backend ${backend} of ${service} on ${socket}`;
  const [text = '', info = ''] = await runBatch(socket, [`show servers state ${backend}`, 'show info'], 3000);
  const states = parseServersState(text);
  const slots = slotNames(states, backend);
  const globalLine = `server-state-file ${stateFile ?? '/var/lib/baton/haproxy/servers.state'}`;
  if (slots.length === 0)
    return {
      name,
      status: 'warn',
      detail:
        'no server-template slots: Baton adds dynamic servers, which a reload or restart drops until reconcile puts them back (requests in between get 503)',
      fix: `in backend ${backend}: "${TEMPLATE}"; in global: "${globalLine}"; in defaults: "load-server-state-from-file global"; in baton.yaml: traffic.router.serverStateFile: ${stateFile ?? '/var/lib/baton/haproxy/servers.state'}`,
    };
  const slot = states.find((s) => s.name === slots[0])!;
  if (!(slot.admin & 0x04) || slot.iweight !== 1)
    return {
      name,
      status: 'fail',
      detail: `the ${SLOT_PREFIX} slots must be "disabled" and carry no weight (HAProxy applies a saved weight only over weight 1)`,
      fix: `in backend ${backend}: "${TEMPLATE}"`,
    };
  if (!stateFile)
    return {
      name,
      status: 'fail',
      detail: `${slots.length} slots, but Baton writes no server-state file for them: a reload empties them`,
      fix: `in baton.yaml: traffic.router.serverStateFile: <the path of HAProxy's "server-state-file">`,
    };
  const cfg = readConfig(parseInfo(info).Pid ?? '');
  if (cfg === undefined)
    return {
      name,
      status: 'warn',
      detail: `${slots.length} slots; Baton writes ${stateFile}; HAProxy's config is not readable here to confirm it loads it`,
      fix: `make sure haproxy.cfg has, in global: "${globalLine}"; in defaults: "load-server-state-from-file global"`,
    };
  const loaded = stateConfig(cfg);
  if (loaded.file !== stateFile)
    return {
      name,
      status: 'fail',
      detail: `HAProxy's server-state-file is ${loaded.file ?? 'not set'}, Baton writes ${stateFile}`,
      fix: `in global: "${globalLine}"`,
    };
  if (!loaded.loaded)
    return {
      name,
      status: 'fail',
      detail: 'HAProxy does not load the server-state file',
      fix: 'in defaults (or the backend): "load-server-state-from-file global"',
    };
  return { name, status: 'ok', detail: `${slots.length} slots, restored from ${stateFile} at every start` };
}
