import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { ConfigError, definePlugin, pluginRegistry } from '@certkd/core';
import type { DependencyContainer, PluginDescriptor } from '@certkd/core';
import { loadTeacher } from '@certkd/teachers';
import {
  certifyStageSchema,
  evaluateStageSchema,
  loadTeacherStageSchema,
  reportStageSchema,
  trainStageSchema,
  type CertifyStage,
  type EvaluateStage,
  type LoadTeacherStage,
  type ReportStage,
  type TrainStage,
} from './recipe/schema';
import { checkModels, checkPlugin, checkTrainStage, checkCertifyMethods } from './recipe/validate-recipe';
import type { PipelineSink, PipelineStage } from './engine/stage-plugin';
import { modelNameOf, trainStage } from './stages/train';
import { loadTeacherStage } from './stages/load-teacher';
import { evaluateStage } from './stages/evaluate';
import { certifyStage } from './stages/certify';
import { reportStage } from './stages/report';
import { JsonlLog, MetricsCsv } from './sinks/jsonl-log';
import { ConsoleSink } from './sinks/console-sink';

const SOURCE = '@certkd/pipeline';

function trainPlugin(name: TrainStage['stage'], description: string): PluginDescriptor {
  return definePlugin({
    kind: 'stage',
    name,
    description,
    options: trainStageSchema,
    create: (st): PipelineStage => ({
      validate(scope, where) {
        checkTrainStage(scope.registry, scope.file, st, where, scope.teachers);
        scope.models.push(modelNameOf(st));
        if (st.stage === 'train-teacher') scope.teachers.push(modelNameOf(st));
      },
      run: (ctx, index) => trainStage(ctx, st, index),
      complete(ctx, entry) {
        const m = ctx.models.get(modelNameOf(st))!;
        entry.models.push({ name: m.name, role: m.role, architecture: m.architecture, path: m.path, trainedWith: m.trainedWith });
        if (st.stage === 'train-teacher') {
          ctx.teachers.set(m.name, loadTeacher(m.network, { tap: 'penultimate' }));
          entry.teachers.push({ name: m.name, path: m.path, tap: 'penultimate' });
        }
      },
    }),
  }) as PluginDescriptor;
}

/** The built-in stage plugins: each one's options schema is its recipe entry's schema. */
export const STAGE_PLUGINS: readonly PluginDescriptor[] = [
  trainPlugin('train', 'train a model (any loss: certified, distillation or teacher)'),
  trainPlugin('train-teacher', 'train the teacher; later stages can distil from it'),
  trainPlugin('train-student', "train the student (the run's main model)"),
  definePlugin({
    kind: 'stage',
    name: 'load-teacher',
    description: 'load a frozen teacher from a CertKD model directory or an ONNX file',
    options: loadTeacherStageSchema,
    create: (st: LoadTeacherStage): PipelineStage => ({
      validate(scope, where) {
        const target = path.resolve(path.dirname(scope.file), st.path);
        if (!fs.existsSync(target))
          throw new ConfigError(`teacher model not found: ${target} (relative paths are relative to the recipe file)`, scope.file, `${where}.path`);
        scope.teachers.push(st.model);
        scope.models.push(st.model);
      },
      run: (ctx) => loadTeacherStage(ctx, st),
      complete: (ctx, entry) => void entry.teachers.push({ name: st.model, path: path.resolve(path.dirname(ctx.recipeFile), st.path), tap: st.tap }),
    }),
  }) as PluginDescriptor,
  definePlugin({
    kind: 'stage',
    name: 'evaluate',
    description: 'clean accuracy and robust accuracy under PGD-40, APGD-CE and any attack plugins named',
    options: evaluateStageSchema,
    create: (st: EvaluateStage): PipelineStage => ({
      validate(scope, where) {
        checkModels(st.models, scope.models, scope.file, `${where}.models`);
        st.attacks?.forEach((a, k) => checkPlugin(scope.registry, scope.file, 'attack', a.name, a.options, `${where}.attacks.${k}`));
      },
      run: (ctx, index) => evaluateStage(ctx, st, index),
    }),
  }) as PluginDescriptor,
  definePlugin({
    kind: 'stage',
    name: 'certify',
    description: "certified accuracy: bound method plugins in order per point, or (timeout > 0) a certifier-stage plugin's complete escalation",
    options: certifyStageSchema,
    create: (st: CertifyStage): PipelineStage => ({
      validate(scope, where) {
        checkModels(st.models, scope.models, scope.file, `${where}.models`);
        checkCertifyMethods(scope.registry, scope.file, st, where);
      },
      run: (ctx, index) => certifyStage(ctx, st, index),
    }),
  }) as PluginDescriptor,
  definePlugin({
    kind: 'stage',
    name: 'report',
    description: 'Markdown and HTML report with plots of the run',
    options: reportStageSchema,
    create: (st: ReportStage): PipelineStage => ({ run: (ctx) => reportStage(ctx, st) }),
  }) as PluginDescriptor,
];

const noOptions = z.object({}).strict();

/** The built-in sink plugins. Every run opens `jsonl-log` and `metrics-csv`; a recipe's `sinks:` adds others. */
export const SINK_PLUGINS: readonly PluginDescriptor[] = [
  definePlugin({
    kind: 'sink',
    name: 'jsonl-log',
    description: 'every event as one JSON line in runs/<name>/events.jsonl, flushed per line',
    options: noOptions,
    create: (): PipelineSink => ({ open: (ctx) => new JsonlLog(ctx.paths.log) }),
  }) as PluginDescriptor,
  definePlugin({
    kind: 'sink',
    name: 'metrics-csv',
    description: 'one row per epoch in runs/<name>/metrics.csv',
    options: noOptions,
    create: (): PipelineSink => ({ open: (ctx) => new MetricsCsv(ctx.paths.metrics) }),
  }) as PluginDescriptor,
  definePlugin({
    kind: 'sink',
    name: 'console',
    description: 'human progress on stderr: a bar per epoch on a terminal, plain lines otherwise',
    options: noOptions,
    create: (): PipelineSink => ({ open: () => new ConsoleSink() }),
  }) as PluginDescriptor,
];

/** The sinks every run writes, in this order, before the recipe's own. */
export const RUN_SINKS = ['jsonl-log', 'metrics-csv'] as const;

/** Composition root of @certkd/pipeline: the built-in stages and sinks. */
export function registerPipeline(container: DependencyContainer): void {
  const registry = pluginRegistry(container);
  for (const p of [...STAGE_PLUGINS, ...SINK_PLUGINS]) registry.register(p, SOURCE);
}
