import type { DeployEvent } from '../engine/events.js';

/** Human progress for deploy-like commands, written to stderr so stdout stays clean for --json. */
export function progressPrinter(out: (line: string) => void): (e: DeployEvent) => void {
  const lastProbe = new Map<string, string>();
  const started = Date.now();
  return (e) => {
    switch (e.type) {
      case 'deployment':
        out(
          `${e.kind} ${e.service}: revision ${e.toRevision}${e.fromRevision ? ` (serving: ${e.fromRevision})` : ''}, deployment ${e.deployment}`,
        );
        break;
      case 'plan':
        if (e.steps.length === 0) out('  nothing to change');
        break;
      case 'step':
        if (e.phase === 'begin') out(`  [${e.index}/${e.total}] ${e.message}`);
        else if (e.phase === 'failed') out(`  [${e.index}/${e.total}] failed: ${e.message}`);
        break;
      case 'instance':
        out(`        ${e.instance}: ${e.message}`);
        break;
      case 'probe': {
        // Print a probe only when its answer changes, so a slow start is one line, not hundreds.
        const text = `${e.result.ok ? 'pass' : 'fail'}: ${e.result.detail}`;
        if (lastProbe.get(e.instance) !== text) out(`        ${e.instance} probe ${text}`);
        lastProbe.set(e.instance, text);
        break;
      }
      case 'warning':
        out(`  warning: ${e.message}`);
        break;
      case 'waiting':
        out(`  … ${e.message}`);
        break;
      case 'analysis':
        out(`  analysis: ${e.decision}: ${e.reason}`);
        break;
      case 'hook':
        out(
          `        ${e.hook}: ${e.ok ? 'ok' : 'failed'} (${e.detail})${!e.ok && e.output ? `\n${e.output.replace(/^/gm, '          | ')}` : ''}`,
        );
        break;
      case 'rollback':
        out(`  rolling back: ${e.reason}`);
        break;
      case 'result': {
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        out(`${e.ok ? '✓' : '✗'} ${e.message} (${secs}s)`);
        break;
      }
    }
  };
}
