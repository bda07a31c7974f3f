import * as fs from 'fs';
import * as path from 'path';
import { Command, CommanderError } from 'commander';
import { CertkdError } from '@certkd/core';
import { runCommand } from './commands/run';
import { pluginsCommand } from './commands/plugins';
import { extraCommands } from './commands/extra';

/** The CLI package's version, from its package.json next to dist/ and src/. */
function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** Build the `certkd` program. */
export function program(): Command {
  const p = new Command('certkd')
    .description('CertKD: certified training with feature distillation from empirically robust teachers')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  p.addCommand(runCommand());
  p.addCommand(pluginsCommand());
  for (const c of extraCommands()) p.addCommand(c);
  for (const c of p.commands) c.exitOverride();
  return p;
}

/** Run the CLI; resolves to the exit code (0 ok, 1 failed run, 2 bad input, 130 interrupted). */
export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end through here with code 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof CertkdError) {
      // One line per error, whatever names or values the message quotes.
      process.stderr.write(`certkd: ${e.name}: ${e.message.replace(/\r?\n/g, '\\n')}\n`);
      return e.exitCode;
    }
    process.stderr.write(`certkd: unexpected failure: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}
