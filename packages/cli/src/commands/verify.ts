import * as path from 'path';
import { Command } from 'commander';
import { ConfigError, writeFileAtomic } from '@certkd/core';
import { ERROR_RESULT, VERIFY_METHODS, readTaskRecords, runInstancesCsv, summarizeTaskRecords, verdictToJson, verifyVnnlib } from '@certkd/certifier';
import { commandBounds, commandRegistry, parseInteger, parseList, parseNumber, parseRelaxations, useBackend } from './common';
import { DEFAULT_SHARD_SIZE, checkRedisUrl, verifyInstancesOnQueue } from '@certkd/scale-out';

export function verifyCommand(): Command {
  return new Command('verify')
    .description('verify a VNN-LIB property of an ONNX network (VNN-COMP result words), or every instance of an instances.csv')
    .argument('[onnx]', 'ONNX network')
    .argument('[vnnlib]', 'VNN-LIB property (plain or .gz)')
    .option('--timeout <s>', 'time limit per instance in seconds, reading the files included (one instance: counted from the start of the command)', '60')
    .option('--out <file>', 'write the result (VNN-COMP format: the word, then the counterexample for sat); with --instances: JSON lines')
    .option('--instances <csv>', 'VNN-COMP instances.csv: verify every row (resumes from --out)')
    .option('--methods <list>', `incomplete methods before branch-and-bound (${VERIFY_METHODS.join(',')})`, 'ibp,crown,alpha-crown')
    .option('--workers <n>', 'worker threads for --instances (0: this thread)', '0')
    .option('--relaxation <kind=name...>', 'relaxation plugin for a layer kind in every method and branch and bound, e.g. relu=zero-slope (this thread only)')
    .option('--plugin <package...>', 'load these third-party plugin packages')
    .option('--backend <name>', 'compute backend')
    .option(
      '--redis <url>',
      'with --instances: split the instances into jobs that `certkd worker` processes take from this Redis (the files must be visible to the workers at the same paths)',
    )
    .option('--shard-size <n>', 'instances per job with --redis', String(DEFAULT_SHARD_SIZE))
    .option('--json', 'print the verdict as JSON')
    .action(
      async (
        onnx: string | undefined,
        vnnlib: string | undefined,
        o: {
          timeout: string;
          out?: string;
          instances?: string;
          methods: string;
          workers: string;
          relaxation?: string[];
          plugin?: string[];
          backend?: string;
          redis?: string;
          shardSize: string;
          json?: boolean;
        },
      ) => {
        const timeoutS = parseNumber(o.timeout, '--timeout');
        const methods = parseList(o.methods, VERIFY_METHODS, '--methods');
        const registry = commandRegistry(o.plugin);
        const relaxations = parseRelaxations(o.relaxation, registry);
        const custom = Object.keys(relaxations).length > 0;
        const workers = parseNumber(o.workers, '--workers');
        if (custom && o.instances && (o.redis || workers > 0)) {
          throw new ConfigError('--relaxation with --instances runs every instance in this thread: use --workers 0 and no --redis', undefined, '--relaxation');
        }
        // Every bound method and relaxation the verifier uses comes from the command's registry.
        const bounds = commandBounds(registry, relaxations);
        await useBackend(o.backend, true);
        if (o.redis && !o.instances) throw new ConfigError('--redis applies to --instances (one instance runs here)', undefined, '--redis');
        if (o.instances) {
          if (!o.out) throw new ConfigError('--instances needs --out FILE.jsonl (results stream there; a rerun resumes)', undefined, '--out');
          const onRecord = (r: { key: string; result: string }) => process.stdout.write(`${r.key}: ${r.result}\n`);
          const records = o.redis
            ? await verifyInstancesOnQueue({
                redis: checkRedisUrl(o.redis),
                csv: o.instances,
                out: o.out,
                timeoutS,
                methods,
                shardSize: parseInteger(o.shardSize, '--shard-size', 1),
                onRecord,
              })
            : await runInstancesCsv(o.instances, {
                out: o.out,
                timeoutS,
                methods,
                workers,
                onRecord,
                ...(custom ? { bounds } : {}),
              } as Parameters<typeof runInstancesCsv>[1]);
          // the closing count covers every instance in the out file (latest record each), not only this invocation's
          const s = summarizeTaskRecords(readTaskRecords(o.out), new Set(records.map((r) => r.key)));
          const counts = Object.entries(s.counts)
            .map(([k, v]) => `${v} ${k}`)
            .join(', ');
          const retry = s.counts[ERROR_RESULT] ? `; ${ERROR_RESULT} instances are run again on the next invocation` : '';
          process.stdout.write(
            `${s.total} instances${counts ? `: ${counts}` : ''} (${s.now} run now, ${s.earlier} earlier${retry}; results in ${path.resolve(o.out)})\n`,
          );
          return;
        }
        if (!onnx || !vnnlib) throw new ConfigError('give ONNX and VNN-LIB files, or --instances CSV', undefined, 'arguments');
        // one instance: the budget runs from the start of the process, so that start-up, loading and parsing count
        const r = verifyVnnlib(onnx, vnnlib, { timeoutS, methods, bounds, startMs: Math.round(Date.now() - process.uptime() * 1000) });
        const text = r.result + '\n' + (r.counterexample ? r.counterexample + '\n' : '');
        if (o.out) writeFileAtomic(o.out, text);
        if (o.json) process.stdout.write(JSON.stringify({ result: r.result, verdict: verdictToJson(r.verdict), counterexample: r.counterexample }) + '\n');
        else process.stdout.write(text);
      },
    );
}
