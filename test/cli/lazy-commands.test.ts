import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { invoked, registerCommands } from '../../src/cli/lazy-commands.js';
import { requireBuilt } from '../helpers/services.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

const names = (p: Command) => p.commands.map((c) => c.name());

describe('commands are loaded only when called', () => {
  it('finds the command after the global options, and none when help is asked for', () => {
    expect(invoked(['deploy', '-f', 'baton.yaml'])).toBe('deploy');
    expect(invoked(['--data-dir', '/d', '--token', 't', 'status', '--json'])).toBe('status');
    expect(invoked(['--api=127.0.0.1:1', 'pause', 'web'])).toBe('pause');
    expect(invoked(['resume-traffic', 'web'])).toBe('resume-traffic');
    expect(invoked(['--version'])).toBe('');
    for (const args of [[], ['--help'], ['help', 'deploy'], ['deploi'], ['--data-dir', 'deploy']])
      expect(invoked(args)).toBeUndefined();
  });

  it('registers only the module of the command called (all its verbs), or every command in help order', async () => {
    const one = new Command('baton');
    await registerCommands(one, ['--data-dir', '/d', 'abort', 'web']);
    expect(names(one)).toEqual(['promote', 'abort', 'pause', 'resume']);
    const all = new Command('baton');
    await registerCommands(all, ['--help']);
    expect(names(all).slice(0, 5)).toEqual(['init', 'serve', 'deploy', 'plan', 'status']);
    expect(names(all)).toContain('proxy');
    expect(names(all)).toHaveLength(new Set(names(all)).size);
    expect(names(all).length).toBeGreaterThanOrEqual(30);
  });

  it.runIf(requireBuilt(CLI))(
    'the built CLI: help lists every command; a bad flag of one command is exit 2',
    () => {
      const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
      expect(help.status).toBe(0);
      for (const c of ['init', 'deploy', 'maintenance', 'governor', 'proxy'])
        expect(help.stdout).toContain(c);
      const version = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
      expect(version.status).toBe(0);
      expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
      const bad = spawnSync(process.execPath, [CLI, 'status', '--no-such-flag'], { encoding: 'utf8' });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('--no-such-flag');
    },
  );
});
