import * as fs from 'fs';
import * as path from 'path';
import { BOUND_METHOD_NAMES } from '@certkd/bounds';
import { VERIFY_METHODS } from '@certkd/certifier';
import { CertkdError, ConfigError, PluginKind, PluginRegistry, architectureOptions, quoteName } from '@certkd/core';
import { Recipe, TrainStage } from './schema';

/**
 * Check everything a recipe names before a run has any side effect: the dataset and its
 * options, each stage's architecture, loss and attack (registered, options valid), teacher and
 * model references, load-teacher paths and certification methods. Every failure is a
 * ConfigError (exit 2) naming `file` and the exact field, e.g. `dataset.options.n`.
 * `registry` must already hold the recipe's plugins (createRegistry).
 */
export function validateRecipe(recipe: Recipe, registry: PluginRegistry, file: string): void {
  const d = recipe.dataset;
  checkPlugin(registry, file, 'dataset', d.name, d.options, 'dataset');
  const models: string[] = [];
  const teachers: string[] = [];
  recipe.stages.forEach((st, i) => {
    const where = `stages.${i}`;
    switch (st.stage) {
      case 'train':
      case 'train-teacher':
      case 'train-student': {
        checkTrainStage(registry, file, st, where, teachers);
        const name = st.model ?? (st.stage === 'train-teacher' ? 'teacher' : 'student');
        models.push(name);
        if (st.stage === 'train-teacher') teachers.push(name);
        break;
      }
      case 'load-teacher': {
        const target = path.resolve(path.dirname(file), st.path);
        if (!fs.existsSync(target)) throw new ConfigError(`teacher model not found: ${target} (relative paths are relative to the recipe file)`, file, `${where}.path`);
        teachers.push(st.model);
        break;
      }
      case 'evaluate':
        checkModels(st.models, models, file, `${where}.models`);
        break;
      case 'certify': {
        checkModels(st.models, models, file, `${where}.models`);
        const allowed: readonly string[] = st.timeout > 0 ? VERIFY_METHODS : BOUND_METHOD_NAMES;
        st.methods.forEach((m, k) => {
          if (!allowed.includes(m)) throw new ConfigError(`unknown method ${quoteName(m)}${st.timeout > 0 ? ' for complete certification' : ''}; allowed: ${allowed.join(', ')}`, file, `${where}.methods.${k}`);
        });
        break;
      }
      case 'report':
        break;
    }
  });
}

function checkTrainStage(registry: PluginRegistry, file: string, st: TrainStage, where: string, teachers: string[]): void {
  checkPlugin(registry, file, 'architecture', st.architecture.name, {}, `${where}.architecture`);
  const arch = architectureOptions.safeParse(st.architecture.options);
  if (!arch.success) {
    const issue = arch.error.issues[0];
    const keys = issue.code === 'unrecognized_keys' ? [issue.keys[0]] : [];
    throw new ConfigError(issue.message, file, [`${where}.architecture.options`, ...issue.path.map(String), ...keys].join('.'));
  }
  checkPlugin(registry, file, st.loss.kind, st.loss.name, st.loss.options, `${where}.loss`);
  if (st.attack) checkPlugin(registry, file, 'attack', st.attack.name, st.attack.options, `${where}.attack`);
  if (st.teacher !== undefined && !teachers.includes(st.teacher)) {
    throw new ConfigError(`unknown teacher ${quoteName(st.teacher)}; known: ${teachers.join(', ') || '(none: add a train-teacher or load-teacher stage before)'}`, file, `${where}.teacher`);
  }
  if (st.loss.kind === 'distill-loss' && st.teacher === undefined) throw new ConfigError('a distillation loss needs a teacher', file, `${where}.teacher`);
}

/** The plugin is registered (else `<where>.name`) and its options parse (else `<where>.options.<field>`). */
function checkPlugin(registry: PluginRegistry, file: string, kind: PluginKind, name: string, options: unknown, where: string): void {
  try {
    registry.get(kind, name);
  } catch (e) {
    if (e instanceof CertkdError) throw new ConfigError(e.message, file, `${where}.name`);
    throw e;
  }
  registry.parseOptions(kind, name, options, `${where}.options`, file);
}

function checkModels(names: string[] | undefined, known: string[], file: string, field: string): void {
  for (const n of names ?? []) {
    if (!known.includes(n)) throw new ConfigError(`unknown model ${quoteName(n)}; models so far: ${known.join(', ') || '(none)'}`, file, field);
  }
}
