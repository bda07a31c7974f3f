import { Command } from 'commander';

/** Commands of the other packages (bounds, export, data, verify, certify). */
export function extraCommands(): Command[] {
  return [];
}
