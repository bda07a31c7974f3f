import { Command } from 'commander';
import { BackendChoice, ConfigError } from '@certkd/core';
import { RunPaths, loadRecipe, runRecipe } from '@certkd/pipeline';
import { parseInteger } from './common';
import { lastValueFrom, tap } from 'rxjs';

export function runCommand(): Command {
  return new Command('run')
    .description('run a training recipe (YAML or JSON): data, training, evaluation, certification, report')
    .argument('<recipe>', 'recipe file')
    .option('--resume', 'continue an interrupted run from its last checkpoint')
    .option('--force', 'replace an existing run directory of the same name')
    .option('--name <name>', 'run name (default: the recipe name)')
    .option('--runs-dir <dir>', 'folder for runs', 'runs')
    .option('--backend <name>', 'compute backend: auto, tensorflow, onnxruntime, wasm, cpu (overrides the recipe)')
    .option('--ort-threads <n>', 'intra-op threads of the onnxruntime backend (default: every core; sets CERTKD_ORT_THREADS)')
    .option('--seed <seed>', "override the recipe's seed (for repeated runs; combine with --name)")
    .option('--workers <n>', "data-parallel worker threads for every train stage: a number, or 'auto' (overrides the recipe)")
    .option(
      '--profile [steps]',
      'profile the first training steps of each train stage (default 3; training runs in-process) and print time per kernel and per stage',
    )
    .option('--allow-external-plugins', "load plugin paths of the recipe that lie outside the recipe's folder (plugins are code that will run)")
    .option('--json', 'print every event as a JSON line on stdout')
    .action(
      async (
        file: string,
        o: {
          resume?: boolean;
          force?: boolean;
          name?: string;
          runsDir: string;
          backend?: string;
          ortThreads?: string;
          seed?: string;
          json?: boolean;
          workers?: string;
          profile?: string | boolean;
          allowExternalPlugins?: boolean;
        },
      ) => {
        // Every option is checked before the recipe run touches the runs folder.
        const named = o.name === undefined ? undefined : RunPaths.forRun(o.runsDir, o.name, undefined, '--name');
        const recipe = loadRecipe(file);
        const paths = named ?? RunPaths.forRun(o.runsDir, recipe.name, file, 'name');
        const workers = parseWorkers(o.workers);
        const profile = o.profile === undefined ? undefined : o.profile === true ? 3 : parseInteger(String(o.profile), '--profile', 1);
        const stageTimes: [string, number][] = [];
        if (o.seed !== undefined) recipe.seed = parseInteger(o.seed, '--seed', 0);
        if (o.ortThreads !== undefined) process.env.CERTKD_ORT_THREADS = String(parseInteger(o.ortThreads, '--ort-threads', 1));
        const controller = new AbortController();
        let interrupts = 0;
        const onSigint = () => {
          interrupts++;
          if (interrupts === 1) {
            process.stderr.write('\ncertkd: stopping after the current batch and writing a checkpoint (Ctrl-C again to quit at once)\n');
            controller.abort();
          } else {
            process.exit(130);
          }
        };
        process.on('SIGINT', onSigint);
        process.on('SIGTERM', onSigint);
        try {
          await lastValueFrom(
            runRecipe(recipe, {
              recipeFile: file,
              runsDir: o.runsDir,
              name: o.name,
              resume: o.resume,
              force: o.force,
              backend: o.backend as BackendChoice | undefined,
              workers,
              profile,
              allowExternalPlugins: o.allowExternalPlugins,
              sinks: o.json ? [] : [{ name: 'console', options: {} }],
              signal: controller.signal,
            }).pipe(
              tap((e) => {
                if (e.type === 'stage-end' && !e.skipped) stageTimes.push([`${e.index}. ${e.stage}`, e.wall_s]);
                if (o.json) process.stdout.write(JSON.stringify(e) + '\n');
              }),
            ),
          );
          if (profile !== undefined && !o.json) process.stderr.write(formatStageTimes(stageTimes));
          if (!o.json) process.stderr.write(`certkd: results in ${paths.results}\n`);
        } finally {
          process.off('SIGINT', onSigint);
          process.off('SIGTERM', onSigint);
        }
      },
    );
}

function parseWorkers(v: string | undefined): 'auto' | number | undefined {
  if (v === undefined || v === 'auto') return v;
  const n = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`must be a positive integer or 'auto', got '${v}'`, undefined, '--workers');
  return n;
}

function formatStageTimes(rows: [string, number][]): string {
  const total = rows.reduce((s, [, t]) => s + t, 0);
  const width = Math.max(12, ...rows.map(([n]) => n.length));
  const lines = [
    'time per stage:',
    ...rows.map(([n, t]) => `  ${n.padEnd(width)} ${t.toFixed(1).padStart(9)} s ${((100 * t) / Math.max(total, 1e-9)).toFixed(1).padStart(5)}%`),
  ];
  return lines.join('\n') + '\n';
}
