import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { ApgdCe, EVAL_APGD_OPTIONS, EVAL_PGD_OPTIONS, Fgsm, Pgd, robustAccuracy } from '@certkd/attacks';
import { Attack, SeededRng } from '@certkd/core';
import { datasetSource, parseInteger, parseList, parseNumber, useBackend } from './common';
import { loadNet } from './model-input';

const ATTACKS: Record<string, () => Attack> = {
  'pgd-40': () => new Pgd({ ...EVAL_PGD_OPTIONS }, 'pgd-40'),
  'apgd-ce': () => new ApgdCe({ ...EVAL_APGD_OPTIONS }),
  fgsm: () => new Fgsm({ stepSize: 2 }),
};

export function attackCommand(): Command {
  return new Command('attack')
    .description('clean and robust accuracy of a model on test points under each attack (evaluation settings of METHODS 4)')
    .argument('<model>', 'CertKD model directory or .onnx file')
    .requiredOption('--dataset <name>', 'dataset of the test points')
    .requiredOption('--eps <eps>', 'L-inf radius (pixel space)')
    .option('--attacks <list>', `comma list of ${Object.keys(ATTACKS).join(', ')}`, 'pgd-40,apgd-ce')
    .option('--n <n>', 'number of test points (the first n)', '1000')
    .option('--data-root <dir>', 'folder of the dataset files (datasets that are not bundled)')
    .option('--seed <seed>', "seed of the attacks' random starts", '0')
    .option('--backend <name>', 'compute backend')
    .option('--json', 'print one JSON object')
    .action(
      async (
        file: string,
        o: { dataset: string; eps: string; attacks: string; n: string; dataRoot?: string; seed: string; backend?: string; json?: boolean },
      ) => {
        const names = parseList(o.attacks, Object.keys(ATTACKS), '--attacks');
        const eps = parseNumber(o.eps, '--eps', 0);
        const count = parseInteger(o.n, '--n', 1);
        const seed = parseInteger(o.seed, '--seed', 0);
        const source = datasetSource(o.dataset);
        await useBackend(o.backend, !!o.json);
        const { network } = loadNet(file);
        const ds = await source.load({ root: o.dataRoot });
        const n = Math.min(count, ds.test.size);
        const out: Record<string, number> = {};
        let clean = 0;
        const t0 = Date.now();
        for (const name of names) {
          const rng = new SeededRng(seed);
          let robust = 0;
          clean = 0;
          for (let s = 0; s < n; s += 250) {
            const idx = Array.from({ length: Math.min(250, n - s) }, (_, i) => s + i);
            const { x, y } = ds.test.read(idx);
            const xt = tf.tensor4d(x, [idx.length, ...ds.test.shape]);
            const yt = tf.tensor1d(y, 'int32');
            const r = robustAccuracy(network, { x: xt, y: yt }, eps, [ATTACKS[name]()], rng);
            tf.dispose([xt, yt]);
            robust += r.robust_acc * r.n;
            clean += r.clean_acc * r.n;
            if (!o.json) process.stderr.write(`\r  ${name}: ${s + idx.length}/${n}`);
          }
          out[name] = robust / n;
          if (!o.json) process.stderr.write('\n');
        }
        network.dispose();
        const result = { eps, n, clean_acc: clean / n, robust_acc: out, wall_s: (Date.now() - t0) / 1000 };
        if (o.json) process.stdout.write(JSON.stringify(result) + '\n');
        else {
          process.stdout.write(`clean accuracy ${(100 * result.clean_acc).toFixed(2)}% on ${n} points\n`);
          for (const [k, v] of Object.entries(out)) process.stdout.write(`${k} robust accuracy at eps ${eps}: ${(100 * v).toFixed(2)}%\n`);
        }
      },
    );
}
