import { Command } from 'commander';
import { ConfigError } from '@certkd/core';
import { checkDataset } from '@certkd/datasets';

export function dataCommand(): Command {
  const data = new Command('data').description('dataset tools');
  data
    .command('check')
    .description("validate a dataset's files and print counts per class")
    .argument('<dir>', 'folder with the dataset files')
    .requiredOption('--dataset <name>', 'dataset format: mnist, fashion-mnist, cifar10, svhn, tinyimagenet, imagenet64')
    .option('--deep', 'decode every image (folder datasets)')
    .option('--json', 'machine-readable output')
    .action(async (dir: string, o: { dataset: string; deep?: boolean; json?: boolean }) => {
      const report = await checkDataset(dir, o.dataset, { deep: o.deep });
      if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else {
        process.stdout.write(`${report.dataset} in ${report.dir}: ${report.ok ? 'ok' : 'PROBLEMS FOUND'}\n`);
        for (const [name, s] of Object.entries(report.splits)) process.stdout.write(`  ${name}: ${JSON.stringify(s)}\n`);
        for (const p of report.problems) process.stdout.write(`  problem: ${p}\n`);
      }
      if (!report.ok) throw new ConfigError(`${report.problems.length} problem(s) found`, dir);
    });
  return data;
}
