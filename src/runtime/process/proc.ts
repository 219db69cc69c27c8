import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

/**
 * Facts about OS processes, from `kill(pid, 0)` and `/proc` (Linux). Without `/proc`, start times are
 * unknown (null) and liveness falls back to `kill(pid, 0)` alone.
 */

interface Stat {
  state: string;
  pgrp: number;
  startTime: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so cut after the last `)`.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); field 5 is pgrp, field 22 is starttime (clock ticks since boot).
  return { state: fields[0] ?? '?', pgrp: Number(fields[2]), startTime: Number(fields[19]) };
}

/** The process's start time (field 22 of /proc/<pid>/stat), or null when it cannot be read. */
export function readStartTime(pid: number): number | null {
  return readStat(pid)?.startTime ?? null;
}

function signalOk(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True when `pid` runs and is the process that was started (same start time, so a reused PID does not
 * count). Zombies (exited, not yet reaped) are not alive.
 */
export function isAlive(pid: number, startTime: number | null = null): boolean {
  if (pid <= 0 || !signalOk(pid, 0)) return false;
  const stat = readStat(pid);
  if (!stat) return startTime === null;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === null || stat.startTime === startTime;
}

/** True while any live (non-zombie) process remains in process group `pgid`. */
export function groupAlive(pgid: number): boolean {
  if (pgid <= 0 || !signalOk(-pgid, 0)) return false;
  if (isAlive(pgid)) return true;
  // The leader is gone; the group may hold only zombies nobody reaps yet. Look for a live member.
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  return entries.some((e) => {
    if (!/^\d+$/.test(e)) return false;
    const stat = readStat(Number(e));
    return stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X';
  });
}

/** Sends a signal to every process of group `pgid`; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** A TCP port free right now on `host`: listen on port 0, read it, close. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The live process-group leaders whose environment holds `entry` (`NAME=value`), from /proc/<pid>/environ (Linux; none
 * without /proc). Used to find a process whose pid was never recorded (see ProcessRuntime's intents).
 */
export function pidsWithEnv(entry: string): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(entry)) out.push(Number(name));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  // The spawned process leads its own group (detached); its children inherit the environment too.
  return out.filter((pid) => {
    const st = readStat(pid);
    return st !== undefined && st.state !== 'Z' && st.pgrp === pid;
  });
}
