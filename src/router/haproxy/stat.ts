/** Counters of one server read from `show stat <backend> 4 -1` (CSV). */
export interface ServerStat {
  name: string;
  /** Current sessions (requests/connections in flight, WebSocket tunnels included). */
  scur: number;
  /** Requests queued for this server. */
  qcur: number;
  /** Sessions since the server was added (or HAProxy started). */
  stot: number;
  hrsp5xx: number;
  /** Failed connection attempts to the server. */
  econ: number;
  /** HAProxy's status column: UP, DOWN, MAINT, DRAIN, "no check", "UP 1/3"… */
  status: string;
  weight: number;
}

const num = (s: string | undefined): number => {
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
};

/** Parses the CSV of `show stat`, keeping server rows (not FRONTEND/BACKEND) of `backend`. */
export function parseServerStats(csv: string, backend: string): Map<string, ServerStat> {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = lines.find((l) => l.startsWith('# '));
  const out = new Map<string, ServerStat>();
  if (!header) return out;
  const cols = header.slice(2).split(',');
  const at = (row: string[], name: string): string | undefined => row[cols.indexOf(name)];
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    const row = line.split(',');
    const sv = at(row, 'svname');
    if (at(row, 'pxname') !== backend || !sv || sv === 'FRONTEND' || sv === 'BACKEND') continue;
    out.set(sv, {
      name: sv,
      scur: num(at(row, 'scur')),
      qcur: num(at(row, 'qcur')),
      stot: num(at(row, 'stot')),
      hrsp5xx: num(at(row, 'hrsp_5xx')),
      econ: num(at(row, 'econ')),
      status: at(row, 'status') ?? '',
      weight: num(at(row, 'weight')),
    });
  }
  return out;
}

/** `show info` as key → value. `Pid` changes when a reload starts a new worker. */
export function parseInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) info[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return info;
}

/** Names listed by `show backend`. */
export function parseBackendList(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
  );
}
