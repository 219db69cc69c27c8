import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * The commands, in the order `baton --help` lists them, each module loaded only when needed: a call
 * imports its own command's code, not the daemon's drivers, cloud SDKs, ACME and NATS clients (measured:
 * `baton --version` 1.4 s with every command loaded, `deploy`'s module alone 0.65 s, on a loaded 2-core
 * host). Help, and anything that is not a known command, loads them all.
 */
const COMMANDS: Array<[names: string[], load: () => Promise<Register>]> = [
  [['init'], async () => (await import('./commands/init.js')).registerInit],
  [['serve'], async () => (await import('./commands/serve.js')).registerServe],
  [['deploy'], async () => (await import('./commands/deploy.js')).registerDeploy],
  [['plan'], async () => (await import('./commands/plan.js')).registerPlan],
  [['status'], async () => (await import('./commands/status.js')).registerStatus],
  [['history'], async () => (await import('./commands/history.js')).registerHistory],
  [['rollback'], async () => (await import('./commands/rollback.js')).registerRollback],
  [['release'], async () => (await import('./commands/release.js')).registerRelease],
  [['run'], async () => (await import('./commands/run.js')).registerRun],
  [['logs'], async () => (await import('./commands/logs.js')).registerLogs],
  [['stop'], async () => (await import('./commands/stop.js')).registerStop],
  [['destroy'], async () => (await import('./commands/destroy.js')).registerDestroy],
  [['audit'], async () => (await import('./commands/audit.js')).registerAudit],
  [['certs'], async () => (await import('./commands/certs.js')).registerCerts],
  [
    ['promote', 'abort', 'pause', 'resume'],
    async () => (await import('./commands/control.js')).registerControl,
  ],
  [['follow'], async () => (await import('./commands/follow.js')).registerFollow],
  [
    ['maintenance', 'pause-traffic', 'resume-traffic'],
    async () => (await import('./commands/traffic.js')).registerTraffic,
  ],
  [['unlock'], async () => (await import('./commands/unlock.js')).registerUnlock],
  [['token'], async () => (await import('./commands/token.js')).registerToken],
  [['doctor'], async () => (await import('./commands/doctor.js')).registerDoctor],
  [['agent'], async () => (await import('./commands/agent.js')).registerAgent],
  [['set-tag'], async () => (await import('./commands/cluster-tag.js')).registerSetTag],
  [['nodes'], async () => (await import('./commands/cluster-nodes.js')).registerNodes],
  [['transition'], async () => (await import('./commands/cluster-transition.js')).registerTransition],
  [['governor'], async () => (await import('./commands/cluster-governor.js')).registerGovernor],
  [['proxy'], async () => (await import('./commands/proxy.js')).registerProxy],
];

/** Global options that take a value (skipped when looking for the command's name). */
const VALUED = new Set(['--data-dir', '--api', '--token', '--ca']);

/**
 * The command named on the command line, if it is one of ours and help was not asked for; '' for
 * `--version`, which needs none.
 */
export function invoked(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (VALUED.has(a)) i++;
    else if (a.startsWith('--') && VALUED.has(a.split('=')[0]!)) continue;
    else if (a === '-V' || a === '--version') return '';
    else if (a.startsWith('-')) return undefined;
    else return COMMANDS.some(([names]) => names.includes(a)) ? a : undefined;
  }
  return undefined;
}

/** Registers the command named in `args` (after the program name), or every command. */
export async function registerCommands(program: Command, args: string[]): Promise<void> {
  const name = invoked(args);
  for (const [names, load] of COMMANDS)
    if (name === undefined || names.includes(name)) (await load())(program);
}
