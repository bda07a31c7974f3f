import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { boundReport, boxAround } from '@certkd/bounds';
import { ConfigError } from '@certkd/core';
import { loadVnnlib, outputConstraintMatrices } from '@certkd/interop';
import { commandRegistry, parseNumber, parseRelaxations, useBackend } from './common';
import { loadNet, readInputJson, toNetworkOrder } from './model-input';

export function boundsCommand(): Command {
  return new Command('bounds')
    .description("bounds of a model's outputs (and of a VNN-LIB property's output rows) over an input box")
    .argument('<model>', 'CertKD model directory or .onnx file')
    .option('--vnnlib <file>', 'VNN-LIB property: its input box and output constraint rows')
    .option('--input <file>', 'JSON array with one input point (network input order, pixel space)')
    .option('--eps <eps>', 'L-inf radius around --input (pixel space, box clipped to [0,1])')
    .option('--method <method>', 'bound method plugin (ibp, crown-ibp, crown, alpha-crown, or one of --plugin)', 'crown')
    .option('--relaxation <kind=name...>', 'relaxation plugin for a layer kind, e.g. relu=zero-slope (repeatable)')
    .option('--plugin <package...>', 'load these third-party plugin packages')
    .option('--backend <name>', 'compute backend')
    .option('--json', 'print JSON: method, out_lower, out_upper, spec_lower, spec_upper, time_s')
    .action(
      async (
        file: string,
        o: { vnnlib?: string; input?: string; eps?: string; method: string; relaxation?: string[]; plugin?: string[]; backend?: string; json?: boolean },
      ) => {
        const registry = commandRegistry(o.plugin);
        if (!registry.has('bound-method', o.method))
          throw new ConfigError(`unknown method '${o.method}'; allowed: ${registry.names('bound-method').join(', ')}`, undefined, '--method');
        const relaxations = parseRelaxations(o.relaxation, registry);
        const method = registry.create('bound-method', o.method, Object.keys(relaxations).length ? { relaxations } : {}, '--method');
        if (!!o.vnnlib === !!o.input) throw new ConfigError('give exactly one of --vnnlib or --input (with --eps)', undefined, '--vnnlib/--input');
        if (o.input && o.eps === undefined) throw new ConfigError('--input needs --eps', undefined, '--eps');
        const eps = o.eps === undefined ? undefined : parseNumber(o.eps, '--eps', 0);
        await useBackend(o.backend, !!o.json);
        const net = loadNet(file);
        const size = net.network.widthAt(0);
        const shape = [1, ...net.network.inputShape];
        let lower: Float32Array;
        let upper: Float32Array;
        let rows: { c: number[]; d: number }[] = [];
        if (o.vnnlib) {
          const prop = loadVnnlib(o.vnnlib);
          if (prop.inputCount !== size) throw new ConfigError(`declares ${prop.inputCount} inputs but the model has ${size}`, o.vnnlib);
          if (prop.boxes.length !== 1) throw new ConfigError(`has ${prop.boxes.length} input boxes; bounds takes one (verify handles disjunctions)`, o.vnnlib);
          lower = toNetworkOrder(prop.boxes[0].lower, net);
          upper = toNetworkOrder(prop.boxes[0].upper, net);
          rows = outputConstraintMatrices(prop).flatMap((m) => m.C.map((c, i) => ({ c, d: m.d[i] })));
        } else {
          const x = readInputJson(o.input!, size);
          const xt = tf.tensor(x, shape);
          const b = boxAround(xt, eps!);
          xt.dispose();
          lower = b.lower.dataSync() as Float32Array;
          upper = b.upper.dataSync() as Float32Array;
          tf.dispose([b.lower, b.upper]);
        }
        const box = { lower: tf.tensor(lower, shape), upper: tf.tensor(upper, shape) };
        const k = net.network.outputShape[0];
        const spec = rows.length ? tf.tensor3d([rows.map((r) => r.c)], [1, rows.length, k]) : undefined;
        const rep = boundReport(net.network, box, method, spec);
        tf.dispose([box.lower, box.upper, ...(spec ? [spec] : [])]);
        if (o.json) {
          process.stdout.write(
            JSON.stringify({
              ...rep,
              out_lower: rep.out_lower[0],
              out_upper: rep.out_upper[0],
              spec_lower: rep.spec_lower?.[0] ?? null,
              spec_upper: rep.spec_upper?.[0] ?? null,
              spec_d: rows.map((r) => r.d),
            }) + '\n',
          );
          return;
        }
        process.stdout.write(`method ${rep.method}, ${rep.time_s.toFixed(3)} s\n`);
        rep.out_lower[0].forEach((l, j) => process.stdout.write(`  Y_${j}: [${l.toPrecision(6)}, ${rep.out_upper[0][j].toPrecision(6)}]\n`));
        rows.forEach((r, i) => {
          const lo = rep.spec_lower![0][i];
          const hi = rep.spec_upper![0][i];
          const verdict = lo > r.d ? 'never holds (row excludes the unsafe region)' : hi <= r.d ? 'always holds' : 'undecided';
          process.stdout.write(`  row ${i}: c·Y in [${lo.toPrecision(6)}, ${hi.toPrecision(6)}], unsafe when <= ${r.d}: ${verdict}\n`);
        });
      },
    );
}
