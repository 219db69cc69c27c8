import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { missing } from './services.js';

/** Debian's `prometheus` package ships promtool here (scripts/test.mjs installs it). */
export const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

/**
 * Whether promtool is installed. When it is not: under `CI=true` this throws, so the suite FAILS with what
 * to install; locally it warns loudly and the caller skips (`describe.runIf(requirePromtool())`).
 */
export function requirePromtool(): boolean {
  if (PROMTOOL) return true;
  return missing(
    'PROMETHEUS METRICS CHECKS',
    'promtool is missing: apt-get install -y prometheus (npm test installs it as root)',
  );
}

/** `promtool check metrics` on an exposition text: its exit code and what it said (empty when clean). */
export function promtoolCheck(text: string): { code: number; output: string } {
  const r = spawnSync(PROMTOOL!, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/**
 * The samples of an exposition text, `name{a="x",b="y"}` → value, for assertions. Label values here are
 * service names, revisions and states: no escapes to undo.
 */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unexpected exposition line: ${line}`);
    const labels = (m[2] ?? '').slice(1, -1).split(',').filter(Boolean).sort().join(',');
    out.set(labels ? `${m[1]}{${labels}}` : m[1]!, Number(m[3]));
  }
  return out;
}

/** One sample by name and labels (any order); 0 when absent (a counter never incremented). */
export function sample(all: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  const key = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  return all.get(key ? `${name}{${key}}` : name) ?? 0;
}
