import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { ConfigError, toIoError, writeFileAtomic } from '@certkd/core';
import { saveOnnx, writeInstancesCsv, writeRobustnessVnnlib } from '@certkd/interop';
import { createRegistry } from '@certkd/pipeline';
import { parseNumber, useBackend } from './common';
import { loadCertkdModel } from './model-input';

export function exportCommand(): Command {
  return new Command('export')
    .description('export a CertKD model to ONNX, and/or write VNN-LIB robustness properties for dataset points')
    .argument('<model>', 'CertKD model directory')
    .option('--onnx <file>', 'write the model as ONNX (BatchNorm folded, NCHW input)')
    .option('--batch <b>', "ONNX batch dimension: 1 or 'dynamic'", 'dynamic')
    .option('--vnnlib <dir>', 'write one local-robustness property per test point and instances.csv')
    .option('--dataset <name>', 'dataset of the points (with --vnnlib)')
    .option('--data-root <dir>', 'folder of the dataset files (datasets that are not bundled)')
    .option('--eps <eps>', 'L-inf radius in pixel space (with --vnnlib)')
    .option('--count <n>', 'number of test points (with --vnnlib)', '10')
    .option('--timeout <s>', 'per-instance timeout written to instances.csv', '60')
    .action(
      async (
        file: string,
        o: { onnx?: string; batch: string; vnnlib?: string; dataset?: string; dataRoot?: string; eps?: string; count: string; timeout: string },
      ) => {
        if (!o.onnx && !o.vnnlib) throw new ConfigError('nothing to do: give --onnx FILE and/or --vnnlib DIR', undefined, '--onnx/--vnnlib');
        if (o.batch !== '1' && o.batch !== 'dynamic') throw new ConfigError(`must be 1 or dynamic, got '${o.batch}'`, undefined, '--batch');
        await useBackend(undefined, true);
        const { network } = loadCertkdModel(file);
        let onnxFile = o.onnx;
        if (o.onnx) {
          // Refuses NaN/Inf weights (ModelFormatError) and reports a failed write (IoError) before claiming it wrote.
          saveOnnx(network, o.onnx, { batch: o.batch === '1' ? 1 : 'dynamic' });
          process.stderr.write(`certkd: wrote ${o.onnx}\n`);
        }
        if (o.vnnlib) {
          if (!o.dataset) throw new ConfigError('--vnnlib needs --dataset', undefined, '--dataset');
          if (o.eps === undefined) throw new ConfigError('--vnnlib needs --eps', undefined, '--eps');
          const eps = parseNumber(o.eps, '--eps');
          const count = parseNumber(o.count, '--count');
          const timeout = parseNumber(o.timeout, '--timeout');
          const source = createRegistry().create('dataset', o.dataset, {}, '--dataset');
          const ds = await source.load({ root: o.dataRoot });
          const n = Math.min(count, ds.test.size);
          try {
            fs.mkdirSync(o.vnnlib, { recursive: true });
          } catch (e) {
            throw toIoError(e, o.vnnlib);
          }
          if (!onnxFile) {
            onnxFile = path.join(o.vnnlib, 'model.onnx');
            saveOnnx(network, onnxFile, { batch: 1 });
          }
          const rows = [];
          const [h, w, c] = ds.test.shape;
          for (let i = 0; i < n; i++) {
            const { x, y } = ds.test.read([i]);
            // VNN-LIB inputs follow the ONNX input's NCHW order.
            const nchw = new Float32Array(x.length);
            for (let ch = 0; ch < c; ch++) for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) nchw[(ch * h + r) * w + q] = x[(r * w + q) * c + ch];
            const name = `prop_${i}_${eps}.vnnlib`;
            writeFileAtomic(path.join(o.vnnlib, name), writeRobustnessVnnlib(nchw, y[0], eps, ds.input.classes));
            rows.push({ onnx: path.relative(o.vnnlib, onnxFile), vnnlib: name, timeout });
          }
          writeFileAtomic(path.join(o.vnnlib, 'instances.csv'), writeInstancesCsv(rows));
          process.stderr.write(`certkd: wrote ${n} properties and instances.csv to ${o.vnnlib}\n`);
        }
        network.dispose();
      },
    );
}
