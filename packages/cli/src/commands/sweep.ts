import { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { BACKEND_NAMES, BackendChoice, CancelledError, CertkdError, ConfigError } from '@certkd/core';
import {
  BullQueue,
  JobStatus,
  LocalQueue,
  SweepStatus,
  checkRedisUrl,
  describeJob,
  enqueueSweep,
  planSweep,
  startWorker,
  sweepJobs,
  sweepStatus,
  writeSweepReport,
} from '@certkd/scale-out';
import type { JobData } from '@certkd/scale-out';
import { parseInteger } from './common';

const BACKENDS: readonly string[] = ['auto', ...BACKEND_NAMES];

function parseBackend(v: string | undefined): BackendChoice | undefined {
  if (v === undefined) return undefined;
  if (!BACKENDS.includes(v)) throw new ConfigError(`unknown backend '${v}'; allowed: ${BACKENDS.join(', ')}`, undefined, '--backend');
  return v as BackendChoice;
}

/** A progress bar on a TTY (cli-progress), else nothing. */
function bar(total: number, enabled: boolean): SingleBar | undefined {
  if (!enabled || !process.stderr.isTTY) return undefined;
  const b = new SingleBar(
    { stream: process.stderr, format: '  {bar} {value}/{total} done | {running} running, {failed} failed', hideCursor: true },
    Presets.shades_classic,
  );
  b.start(total, 0, { running: 0, failed: 0 });
  return b;
}

function printStatus(s: SweepStatus): void {
  const lines = [
    `sweep ${s.sweep} (${s.backend}, store ${s.store}): ${s.counts.done}/${s.total} done, ${s.counts.running} running, ${s.counts.queued} queued, ${s.counts.failed} failed`,
  ];
  const width = Math.max(...s.jobs.map((j) => j.name.length), 4);
  for (const j of s.jobs) {
    const extra =
      j.state === 'running' && j.progress
        ? ` ${(100 * j.progress.fraction).toFixed(0)}% (${j.progress.label})`
        : j.state === 'failed' && j.error
          ? ` ${j.error}`
          : j.attempts > 0 && j.state !== 'done'
            ? ` (attempts: ${j.attempts})`
            : '';
    lines.push(`  ${j.kind === 'teacher' ? 'teacher' : 'run    '} ${j.name.padEnd(width)} ${j.state}${extra}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

export function sweepCommand(): Command {
  const cmd = new Command('sweep')
    .description('run a sweep (a base recipe and a grid of overrides): here with --concurrency child processes, or on workers through Redis with --redis')
    .argument('<sweep>', 'sweep file (YAML or JSON)')
    .option('--redis <url>', 'only enqueue the runs on this Redis (redis://HOST:PORT); `certkd worker` processes take them')
    .option('--store <dir>', 'folder of the run directories, shared by the workers', 'runs')
    .option('--concurrency <n>', 'runs at once on this machine, each in its own process (local back-end)', '1')
    .option('--backend <name>', `compute backend for the runs (local back-end): ${BACKENDS.join(', ')}`)
    .option('--no-report', 'do not write the sweep report at the end (local back-end)')
    .option('--json', 'print job state changes and the final status as JSON lines')
    .action(async (file: string, o: { redis?: string; store: string; concurrency: string; backend?: string; report: boolean; json?: boolean }) => {
      const concurrency = parseInteger(o.concurrency, '--concurrency', 1);
      const backend = parseBackend(o.backend);
      if (o.redis) checkRedisUrl(o.redis);
      // Every run is expanded and validated before anything is enqueued or run.
      const plan = planSweep(file);
      const jobs = sweepJobs(plan);
      const say = (s: string) => (o.json ? undefined : process.stderr.write(`certkd: ${s}\n`));
      say(
        `sweep ${plan.loaded.sweep.name}: ${plan.runs.length} runs${plan.teachers.length ? ` and ${plan.teachers.length} shared teacher(s)` : ''}, store ${o.store}`,
      );
      if (o.redis) {
        if (o.concurrency !== '1' || backend)
          throw new ConfigError(
            '--concurrency and --backend apply to local sweeps; with --redis give them to `certkd worker`',
            undefined,
            o.backend ? '--backend' : '--concurrency',
          );
        const queue = new BullQueue(o.redis);
        try {
          const r = await enqueueSweep(plan, queue);
          if (o.json) process.stdout.write(JSON.stringify({ sweep: plan.loaded.sweep.name, ...r }) + '\n');
          else
            say(
              `enqueued ${r.added.length} job(s) on ${o.redis}; ${r.existing.length} already queued or done${r.retried.length ? `, ${r.retried.length} failed one(s) retried` : ''}. Start workers with: certkd worker --redis ${o.redis} --store ${o.store}`,
            );
        } finally {
          await queue.close();
        }
        return;
      }
      const queue = new LocalQueue();
      await enqueueSweep(plan, queue);
      const controller = new AbortController();
      const onSignal = () => {
        if (controller.signal.aborted) process.exit(130);
        process.stderr.write('\ncertkd: stopping the runs after their current batch (checkpointed; rerun the sweep to resume; Ctrl-C again to quit at once)\n');
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const b = bar(jobs.length, !o.json);
      const states = new Map<string, JobStatus>();
      const onUpdate = (s: JobStatus, data: JobData) => {
        const prev = states.get(s.id);
        states.set(s.id, s);
        if (o.json) {
          if (prev?.state !== s.state)
            process.stdout.write(
              JSON.stringify({ type: 'job', id: s.id, job: describeJob(data), state: s.state, attempts: s.attempts, error: s.error }) + '\n',
            );
          return;
        }
        const vals = [...states.values()];
        if (b)
          b.update(vals.filter((v) => v.state === 'done').length, {
            running: vals.filter((v) => v.state === 'running').length,
            failed: vals.filter((v) => v.state === 'failed').length,
          });
        else if (prev?.state !== s.state)
          process.stderr.write(`  ${describeJob(data)}: ${s.state}${s.state === 'failed' || (s.state === 'queued' && s.error) ? ` (${s.error})` : ''}\n`);
      };
      try {
        await queue.drain({ store: o.store, concurrency, backend, signal: controller.signal, onUpdate });
      } finally {
        b?.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      const status = await sweepStatus(plan, o.store, queue);
      if (o.json) process.stdout.write(JSON.stringify({ type: 'status', ...status }) + '\n');
      else printStatus(status);
      if (controller.signal.aborted) throw new CancelledError('sweep interrupted; rerun it to resume');
      if (o.report && status.counts.done > 0) {
        const w = await writeSweepReport(plan, o.store);
        say(`report in ${w.dir} (report.md, report.html, report.json)`);
      }
      if (status.counts.failed > 0) {
        throw new CertkdError(
          `${status.counts.failed} of ${status.total} job(s) failed: ${status.jobs
            .filter((j) => j.state === 'failed')
            .map((j) => `${j.name}: ${j.error}`)
            .join('; ')}`,
        );
      }
    });
  cmd
    .command('status')
    .description('queued, running, done and failed runs of a sweep (from Redis with --redis, else from the store)')
    .argument('<sweep>', 'sweep file')
    .option('--redis <url>', 'the Redis the sweep was enqueued on')
    .option('--store <dir>', 'folder of the run directories (default: "runs")')
    .option('--json', 'print the status as one JSON object')
    .action(async (file: string, _o: unknown, self: Command) => {
      // `certkd sweep` has the same options, and its parser takes them wherever they stand: merge both.
      const o = self.optsWithGlobals() as { redis?: string; store: string; json?: boolean };
      if (o.redis) checkRedisUrl(o.redis);
      const plan = planSweep(file);
      const queue = o.redis ? new BullQueue(o.redis) : undefined;
      try {
        const s = await sweepStatus(plan, o.store, queue);
        if (o.json) {
          process.stdout.write(JSON.stringify(s) + '\n');
          return;
        }
        const b = bar(s.total, true);
        if (b) {
          b.update(s.counts.done, { running: s.counts.running, failed: s.counts.failed });
          b.stop();
        }
        printStatus(s);
      } finally {
        await queue?.close();
      }
    });
  cmd
    .command('report')
    .description(
      "aggregate the results.json of a sweep's finished runs: mean and sd per setting, paired differences with 95% t-intervals (markdown, JSON, HTML)",
    )
    .argument('<sweep>', 'sweep file')
    .option('--store <dir>', 'folder of the run directories (default: "runs")')
    .option('--json', 'print the aggregated numbers as JSON')
    .action(async (file: string, _o: unknown, self: Command) => {
      const o = self.optsWithGlobals() as { store: string; json?: boolean; redis?: string };
      if (o.redis) throw new ConfigError('the report reads the store; it takes no --redis', undefined, '--redis');
      const plan = planSweep(file);
      const w = await writeSweepReport(plan, o.store);
      if (o.json) process.stdout.write(JSON.stringify(w.report) + '\n');
      else process.stdout.write(`${w.report.finished} of ${w.report.runs} runs finished; report in ${w.dir}:\n${w.files.map((f) => `  ${f}`).join('\n')}\n`);
    });
  for (const c of cmd.commands) c.exitOverride();
  return cmd;
}

export function workerCommand(): Command {
  return new Command('worker')
    .description(
      'take sweep runs and certification shards from Redis and run them, each in its own process, until stopped (Ctrl-C: running jobs checkpoint and go back to the queue)',
    )
    .requiredOption('--redis <url>', 'the Redis to take jobs from (redis://HOST:PORT)')
    .option('--store <dir>', 'folder of the run directories, shared by the workers', 'runs')
    .option('--concurrency <n>', 'jobs at once', '1')
    .option('--backend <name>', `compute backend: ${BACKENDS.join(', ')} (overrides the recipes)`)
    .option('--lock-duration <ms>', 'a job whose worker stops renewing its lock this long is handed to another worker', '30000')
    .option('--stalled-interval <ms>', 'how often to look for jobs whose worker died', '30000')
    .action(async (o: { redis: string; store: string; concurrency: string; backend?: string; lockDuration: string; stalledInterval: string }) => {
      checkRedisUrl(o.redis);
      const concurrency = parseInteger(o.concurrency, '--concurrency', 1);
      const lockDuration = parseInteger(o.lockDuration, '--lock-duration', 1000);
      const stalledInterval = parseInteger(o.stalledInterval, '--stalled-interval', 100);
      const backend = parseBackend(o.backend);
      const log = (line: string) => process.stderr.write(`certkd worker ${process.pid}: ${line}\n`);
      const w = await startWorker({ url: o.redis, store: o.store, concurrency, lockDuration, stalledInterval, backend, log });
      log(`taking jobs from ${o.redis} (concurrency ${concurrency}, store ${o.store})`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const onSignal = () => {
          if (stopping) process.exit(130);
          stopping = true;
          log('stopping: running jobs checkpoint and go back to the queue (again to quit at once)');
          void w.stop().then(resolve, resolve);
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      log('stopped');
    });
}
