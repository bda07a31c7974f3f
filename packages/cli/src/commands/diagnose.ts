import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { boundDiagnostics } from '@certkd/bounds';
import { ConfigError } from '@certkd/core';
import { commandRegistry, datasetSource, firstTestPoints, parseInteger, parseNumber, useBackend } from './common';
import { loadTeacher } from '@certkd/teachers';
import { guardModelLoad, loadNet } from './model-input';

/** `certkd diagnose`: how loose a model's IBP bounds are on test points, and how far its features are from a teacher's. */
export function diagnoseCommand(): Command {
  return new Command('diagnose')
    .description(
      'IBP diagnostics of a model on dataset test points: width of the penultimate feature box, unstable ReLUs per layer, and the clean feature distance to a teacher',
    )
    .argument('<model>', 'CertKD model directory or .onnx file')
    .requiredOption('--dataset <name>', 'dataset of the test points')
    .requiredOption('--eps <eps>', 'L-inf radius of the boxes (pixel space)')
    .option('--teacher <model>', 'teacher model (same feature width): report the feature distance to it')
    .option('--data-root <dir>', 'folder of the dataset files (datasets that are not bundled)')
    .option('--n <n>', 'number of test points (the first n)', '1000')
    .option('--plugin <package...>', 'load these third-party plugin packages')
    .option('--backend <name>', 'compute backend')
    .option('--json', 'print the diagnostics as JSON')
    .action(
      async (
        file: string,
        o: { dataset: string; eps: string; teacher?: string; dataRoot?: string; n: string; plugin?: string[]; backend?: string; json?: boolean },
      ) => {
        const eps = parseNumber(o.eps, '--eps', 0);
        const count = parseInteger(o.n, '--n', 1);
        const source = datasetSource(o.dataset, commandRegistry(o.plugin));
        await useBackend(o.backend, !!o.json);
        const { network } = loadNet(file);
        const teacher = o.teacher ? guardModelLoad(o.teacher, () => loadTeacher(o.teacher!)) : undefined;
        try {
          const { x, n } = await firstTestPoints(source, o.dataset, o.dataRoot, network, file, count);
          const xt = tf.tensor(x, [n, ...network.inputShape]);
          let diag;
          try {
            diag = boundDiagnostics(network, xt, eps, { teacher });
          } catch (e) {
            if (e instanceof ConfigError && e.field === 'teacher') throw new ConfigError(e.message, o.teacher, '--teacher');
            throw e;
          } finally {
            xt.dispose();
          }
          if (o.json) {
            process.stdout.write(JSON.stringify(diag) + '\n');
            return;
          }
          const lines = [
            `${n} test points of ${o.dataset}, eps ${eps}, IBP (eval mode)`,
            `penultimate feature box: mean width ${diag.feature_box_width.toPrecision(4)}`,
            `unstable ReLUs: ${diag.unstable_relus.toFixed(1)} of ${diag.relu_units} per point (${(100 * diag.unstable_fraction).toFixed(2)}%)`,
            ...diag.per_layer.map((l) => `  layer ${l.layer}: ${l.unstable.toFixed(1)} of ${l.units}`),
          ];
          if (diag.teacher_distance !== undefined)
            lines.push(
              `teacher feature distance: ${diag.teacher_distance.toPrecision(4)} (squared L2, ${(100 * diag.teacher_distance_rel!).toFixed(2)}% of the teacher's)`,
            );
          process.stdout.write(lines.join('\n') + '\n');
        } finally {
          network.dispose();
          teacher?.dispose();
        }
      },
    );
}
