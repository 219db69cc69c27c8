#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { defaultDataDir } from '../api/paths.js';
import { registerCommands } from './lazy-commands.js';
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

await registerCommands(program, process.argv.slice(2));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are not errors; usage mistakes are bad input.
    process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
  } else throw err;
}
