import { Command } from 'commander';
import { boundsCommand } from './bounds';
import { exportCommand } from './export';
import { dataCommand } from './data';
import { verifyCommand } from './verify';
import { certifyCommand } from './certify';
import { diagnoseCommand } from './diagnose';
import { attackCommand } from './attack';
import { sweepCommand, workerCommand } from './sweep';

/** Commands beyond run and plugins. */
export function extraCommands(): Command[] {
  return [
    boundsCommand(),
    exportCommand(),
    dataCommand(),
    verifyCommand(),
    certifyCommand(),
    diagnoseCommand(),
    attackCommand(),
    sweepCommand(),
    workerCommand(),
  ];
}
