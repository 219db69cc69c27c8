#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { defaultDataDir } from '../api/paths.js';
import { registerAgent } from './commands/agent.js';
import { registerAudit } from './commands/audit.js';
import { registerCerts } from './commands/certs.js';
import { registerGovernor } from './commands/cluster-governor.js';
import { registerNodes } from './commands/cluster-nodes.js';
import { registerSetTag } from './commands/cluster-tag.js';
import { registerTransition } from './commands/cluster-transition.js';
import { registerControl } from './commands/control.js';
import { registerDeploy } from './commands/deploy.js';
import { registerDestroy } from './commands/destroy.js';
import { registerDoctor } from './commands/doctor.js';
import { registerFollow } from './commands/follow.js';
import { registerHistory } from './commands/history.js';
import { registerInit } from './commands/init.js';
import { registerLogs } from './commands/logs.js';
import { registerPlan } from './commands/plan.js';
import { registerProxy } from './commands/proxy.js';
import { registerRelease } from './commands/release.js';
import { registerRollback } from './commands/rollback.js';
import { registerRun } from './commands/run.js';
import { registerServe } from './commands/serve.js';
import { registerStatus } from './commands/status.js';
import { registerStop } from './commands/stop.js';
import { registerToken } from './commands/token.js';
import { registerTraffic } from './commands/traffic.js';
import { registerUnlock } from './commands/unlock.js';
import { VERSION } from './version.js';

const program = new Command('baton')
  .description('zero-downtime deploys of processes and containers, without a cluster')
  .version(VERSION)
  .option('--data-dir <dir>', `state directory (env BATON_DATA_DIR, default ${defaultDataDir()})`)
  .option(
    '--api <url>',
    'control plane API: host:port or https://host:port (env BATON_API; default: from the data dir)',
  )
  .option('--token <token>', 'API token (env BATON_TOKEN; default: read from the data dir)')
  .option('--ca <file>', "PEM of the CA that signed the API's certificate (env BATON_CA)")
  .showHelpAfterError()
  .exitOverride();

registerInit(program);
registerServe(program);
registerDeploy(program);
registerPlan(program);
registerStatus(program);
registerHistory(program);
registerRollback(program);
registerRelease(program);
registerRun(program);
registerLogs(program);
registerStop(program);
registerDestroy(program);
registerAudit(program);
registerCerts(program);
registerControl(program);
registerFollow(program);
registerTraffic(program);
registerUnlock(program);
registerToken(program);
registerDoctor(program);
registerAgent(program);
registerSetTag(program);
registerNodes(program);
registerTransition(program);
registerGovernor(program);
registerProxy(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are not errors; usage mistakes are bad input.
    process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
  } else throw err;
}
