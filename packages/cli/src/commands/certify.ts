import { Command } from 'commander';
import { ConfigError } from '@certkd/core';
import { EVAL_PGD_OPTIONS } from '@certkd/attacks';
import { VERIFY_METHODS } from '@certkd/certifier';
import { commandRegistry, datasetSource, firstTestPoints, parseInteger, parseList, parseNumber, parsePositive, parseRelaxations, useBackend } from './common';
import { loadNet } from './model-input';
import { DEFAULT_SHARD_SIZE, certifyPointsOnQueue, checkRedisUrl } from '@certkd/scale-out';

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
    .option('--relaxation <kind=name...>', 'relaxation plugin for a layer kind in every method and branch and bound, e.g. relu=zero-slope (this thread only)')
    .option('--certifier <name>', 'certifier-stage plugin', 'escalation')
    .option('--plugin <package...>', 'load these third-party plugin packages')
    .option('--out <file>', 'JSON lines of verdicts, written as decided; a rerun resumes from it')
    .option('--backend <name>', 'compute backend')
    .option(
      '--redis <url>',
      'split the points into jobs that `certkd worker` processes take from this Redis (needs --out; the model path must be visible to the workers)',
    )
    .option('--shard-size <n>', 'points per job with --redis', String(DEFAULT_SHARD_SIZE))
    .option('--json', 'print the summary as JSON')
    .action(
      async (
        file: string,
        o: {
          dataset: string;
          eps: string;
          dataRoot?: string;
          timeout: string;
          n: string;
          methods: string;
          workers: string;
          relaxation?: string[];
          certifier: string;
          plugin?: string[];
          out?: string;
          backend?: string;
          redis?: string;
          shardSize: string;
          json?: boolean;
        },
      ) => {
        const methods = parseList(o.methods, VERIFY_METHODS, '--methods');
        const eps = parseNumber(o.eps, '--eps', 0);
        const timeoutS = parsePositive(o.timeout, '--timeout');
        const workers = parseInteger(o.workers, '--workers', 0);
        const count = parseInteger(o.n, '--n', 1);
        const shardSize = parseInteger(o.shardSize, '--shard-size', 1);
        if (o.redis) {
          checkRedisUrl(o.redis);
          if (!o.out) throw new ConfigError('--redis needs --out FILE.jsonl (results stream there as the workers finish; a rerun resumes)', undefined, '--out');
          if (workers !== 0) throw new ConfigError('--workers applies without --redis (with --redis, start `certkd worker` processes)', undefined, '--workers');
        }
        const registry = commandRegistry(o.plugin);
        const relaxations = parseRelaxations(o.relaxation, registry);
        if (o.redis && Object.keys(relaxations).length)
          throw new ConfigError('--relaxation applies without --redis (workers use the built-in relaxations)', undefined, '--relaxation');
        const certifier = registry.create('certifier-stage', o.certifier, { methods, timeoutS, relaxations }, '--certifier');
        const source = datasetSource(o.dataset, registry);
        await useBackend(o.backend, !!o.json);
        const { network } = loadNet(file);
        const { x, y } = await firstTestPoints(source, o.dataset, o.dataRoot, network, file, count);
        const progress = o.json
          ? undefined
          : (done: number, total: number, s: { certified: number }) => process.stderr.write(`\r  ${done}/${total} points, ${s.certified} certified`);
        const summary = o.redis
          ? await certifyPointsOnQueue({ redis: o.redis, model: file, xs: x, labels: y, eps, timeoutS, methods, out: o.out!, shardSize, onProgress: progress })
          : await certifier.certifyPoints(network, x, y, {
              eps,
              workers,
              out: o.out,
              falsifier: workers > 1 ? undefined : registry.create('attack', 'pgd', { ...EVAL_PGD_OPTIONS }),
              onProgress: progress,
            });
        network.dispose();
        const { records: _records, ...rest } = summary;
        if (o.json) {
          process.stdout.write(JSON.stringify({ eps, ...rest }) + '\n');
          return;
        }
        process.stderr.write('\n');
        process.stdout.write(
          `certified accuracy ${(100 * summary.certified_acc).toFixed(2)}% (${summary.certified}/${summary.n}), clean ${summary.correct}/${summary.n}, eps ${eps}\n`,
        );
        process.stdout.write(`verdicts: ${JSON.stringify(summary.counts)}\ndecided by: ${JSON.stringify(summary.by_method)}\n`);
      },
    );
}
