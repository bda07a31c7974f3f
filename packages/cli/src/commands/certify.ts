import { Command } from 'commander';
import { ConfigError, DatasetSource } from '@certkd/core';
import { EVAL_PGD_OPTIONS, Pgd } from '@certkd/attacks';
import { VERIFY_METHODS, certifyPoints } from '@certkd/certifier';
import { createRegistry } from '@certkd/pipeline';
import { parseList, parseNumber, useBackend } from './common';
import { loadNet } from './model-input';

export function certifyCommand(): Command {
  return new Command('certify')
    .description('certified accuracy of a model on dataset test points: PGD, incomplete bounds, then branch-and-bound per point')
    .argument('<model>', 'CertKD model directory or .onnx file')
    .requiredOption('--dataset <name>', 'dataset of the test points')
    .requiredOption('--eps <eps>', 'L-inf radius (pixel space)')
    .option('--data-root <dir>', 'folder of the dataset files (datasets that are not bundled)')
    .option('--timeout <s>', 'time limit per point in seconds', '10')
    .option('--n <n>', 'number of test points (the first n)', '100')
    .option('--methods <list>', `incomplete methods before branch-and-bound (${VERIFY_METHODS.join(',')})`, 'ibp,crown,alpha-crown')
    .option('--workers <n>', 'worker threads (0: this thread)', '0')
    .option('--out <file>', 'JSON lines of verdicts, written as decided; a rerun resumes from it')
    .option('--backend <name>', 'compute backend')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, o: { dataset: string; eps: string; dataRoot?: string; timeout: string; n: string; methods: string; workers: string; out?: string; backend?: string; json?: boolean }) => {
      const methods = parseList(o.methods, VERIFY_METHODS, '--methods');
      const eps = parseNumber(o.eps, '--eps');
      const timeoutS = parseNumber(o.timeout, '--timeout');
      const workers = parseNumber(o.workers, '--workers');
      await useBackend(o.backend, !!o.json);
      const { network } = loadNet(file);
      const ds = await createRegistry().create<DatasetSource>('dataset', o.dataset, {}, undefined, '--dataset').load({ root: o.dataRoot });
      const d = network.inputShape.reduce((a, b) => a * b, 1);
      if (d !== ds.test.shape.reduce((a, b) => a * b, 1)) throw new ConfigError(`the model takes ${d} inputs but ${o.dataset} images have ${ds.test.shape.join('x')}`, file);
      const n = Math.min(parseNumber(o.n, '--n'), ds.test.size);
      const { x, y } = ds.test.read(Array.from({ length: n }, (_, i) => i));
      const summary = await certifyPoints(network, x, y, {
        eps,
        timeoutS,
        methods,
        workers,
        out: o.out,
        falsifier: workers > 1 ? undefined : new Pgd({ ...EVAL_PGD_OPTIONS }, 'pgd-40'),
        onProgress: o.json ? undefined : (done, total, s) => process.stderr.write(`\r  ${done}/${total} points, ${s.certified} certified`),
      });
      network.dispose();
      const { records: _records, ...rest } = summary;
      if (o.json) {
        process.stdout.write(JSON.stringify({ eps, ...rest }) + '\n');
        return;
      }
      process.stderr.write('\n');
      process.stdout.write(`certified accuracy ${(100 * summary.certified_acc).toFixed(2)}% (${summary.certified}/${summary.n}), clean ${summary.correct}/${summary.n}, eps ${eps}\n`);
      process.stdout.write(`verdicts: ${JSON.stringify(summary.counts)}\ndecided by: ${JSON.stringify(summary.by_method)}\n`);
    });
}
