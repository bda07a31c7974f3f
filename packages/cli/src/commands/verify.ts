import * as path from 'path';
import { Command } from 'commander';
import { ConfigError, writeFileAtomic } from '@certkd/core';
import { VERIFY_METHODS, runInstancesCsv, verdictToJson, verifyVnnlib } from '@certkd/certifier';
import { parseList, parseNumber, useBackend } from './common';

export function verifyCommand(): Command {
  return new Command('verify')
    .description('verify a VNN-LIB property of an ONNX network (VNN-COMP result words), or every instance of an instances.csv')
    .argument('[onnx]', 'ONNX network')
    .argument('[vnnlib]', 'VNN-LIB property (plain or .gz)')
    .option('--timeout <s>', 'time limit per instance in seconds', '60')
    .option('--out <file>', 'write the result (VNN-COMP format: the word, then the counterexample for sat); with --instances: JSON lines')
    .option('--instances <csv>', 'VNN-COMP instances.csv: verify every row (resumes from --out)')
    .option('--methods <list>', `incomplete methods before branch-and-bound (${VERIFY_METHODS.join(',')})`, 'ibp,crown,alpha-crown')
    .option('--workers <n>', 'worker threads for --instances (0: this thread)', '0')
    .option('--backend <name>', 'compute backend')
    .option('--json', 'print the verdict as JSON')
    .action(async (onnx: string | undefined, vnnlib: string | undefined, o: { timeout: string; out?: string; instances?: string; methods: string; workers: string; backend?: string; json?: boolean }) => {
      const timeoutS = parseNumber(o.timeout, '--timeout');
      const methods = parseList(o.methods, VERIFY_METHODS, '--methods');
      await useBackend(o.backend, true);
      if (o.instances) {
        if (!o.out) throw new ConfigError('--instances needs --out FILE.jsonl (results stream there; a rerun resumes)', undefined, '--out');
        const records = await runInstancesCsv(o.instances, {
          out: o.out,
          timeoutS,
          methods,
          workers: parseNumber(o.workers, '--workers'),
          onRecord: (r: { key: string; result: string }) => process.stdout.write(`${r.key}: ${r.result}\n`),
        } as Parameters<typeof runInstancesCsv>[1]);
        const counts: Record<string, number> = {};
        for (const r of records) counts[r.result] = (counts[r.result] ?? 0) + 1;
        process.stdout.write(`${records.length} instances: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')} (results in ${path.resolve(o.out)})\n`);
        return;
      }
      if (!onnx || !vnnlib) throw new ConfigError('give ONNX and VNN-LIB files, or --instances CSV', undefined, 'arguments');
      const r = verifyVnnlib(onnx, vnnlib, { timeoutS, methods });
      const text = r.result + '\n' + (r.counterexample ? r.counterexample + '\n' : '');
      if (o.out) writeFileAtomic(o.out, text);
      if (o.json) process.stdout.write(JSON.stringify({ result: r.result, verdict: verdictToJson(r.verdict), counterexample: r.counterexample }) + '\n');
      else process.stdout.write(text);
    });
}
