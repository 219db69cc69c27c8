import type { Server } from 'node:http';
import type { Fleet } from '../fleet.js';

/** A listening socket to pass on; `close` releases this process's extra copy once passed. */
export interface Passed {
  listen: string;
  fd: number;
  close?: () => void;
}

/** The listening sockets of a proxy with workers: raw handles one worker sent (this process keeps them until it exits). */
export async function fleetSockets(fleet: Fleet): Promise<Passed[]> {
  return (await fleet.handles()).map(({ listen, handle }) => ({
    listen,
    fd: handle.fd,
    close: () => handle.close(),
  }));
}

/**
 * The listening sockets of a proxy serving in its own process: its servers' descriptors (no copy: they
 * close when it stops accepting, so it cannot start another successor, see above).
 */
export function ownSockets(listeners: Array<{ listen: string; server: Server }>): Passed[] {
  return listeners.map(({ listen, server }) => ({
    listen,
    fd: (server as unknown as { _handle: { fd: number } })._handle.fd,
  }));
}

/** Closes this process's copies of the sockets passed on. */
export function release(passed: Passed[]): void {
  for (const s of passed.splice(0)) s.close?.();
}
