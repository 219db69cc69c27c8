import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../core/errors.js';
import { STARTER_YAML } from '../../spec/starter.js';
import { action, type Io, stdio } from '../context.js';

export function registerInit(program: Command, io: Io = stdio): void {
  program
    .command('init')
    .description('write a commented starter baton.yaml')
    .option('-f, --file <path>', 'where to write it', 'baton.yaml')
    .option('--force', 'overwrite an existing file')
    .action(
      action(async (opts: { file: string; force?: boolean }) => {
        if (existsSync(opts.file) && !opts.force)
          throw new InputError(`${opts.file} already exists (use --force to overwrite)`);
        writeFileSync(opts.file, STARTER_YAML);
        io.out(`wrote ${opts.file}; next: baton serve, then baton deploy`);
        return 0;
      }),
    );
}
