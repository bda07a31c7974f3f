import { CertkdError, ConfigError, PluginKind, PluginRegistry, architectureOptions, quoteName } from '@certkd/core';
import { VERIFY_METHODS } from '@certkd/certifier';
import { relaxationsFromRegistry } from '@certkd/bounds';
import { CertifyStage, MethodRef, Recipe, TrainStage } from './schema';
import type { StageScope } from '../engine/stage-plugin';

/**
 * Check everything a recipe names before a run has any side effect: the dataset and its
 * options, each stage through its stage plugin (registered, every field valid by the plugin's
 * schema, then the plugin's own checks against the stages before: models, teachers, losses,
 * attacks, bound methods) and the recipe's sinks. Every failure is a ConfigError (exit 2)
 * naming `file` and the exact field, e.g. `dataset.options.n` or `stages.2.methods.1.name`.
 * `registry` must already hold the recipe's plugins (createRunContainer). Returns the recipe
 * with every stage entry as its plugin parsed it (defaults filled in).
 */
export function validateRecipe(recipe: Recipe, registry: PluginRegistry, file: string): Recipe {
  const d = recipe.dataset;
  checkPlugin(registry, file, 'dataset', d.name, d.options, 'dataset');
  const scope: StageScope = { registry, file, models: [], teachers: [] };
  const stages = recipe.stages.map((st, i) => {
    const where = `stages.${i}`;
    if (!registry.has('stage', st.stage)) {
      throw new ConfigError(`unknown stage ${quoteName(st.stage)}; registered: ${registry.names('stage').join(', ')}`, file, `${where}.stage`);
    }
    const parsed = registry.parseOptions<Recipe['stages'][number]>('stage', st.stage, st, where, file);
    registry.create('stage', st.stage, parsed, where, file).validate?.(scope, where);
    return parsed;
  });
  recipe.sinks?.forEach((s, i) => checkPlugin(registry, file, 'sink', s.name, s.options, `sinks.${i}`));
  return { ...recipe, stages };
}

export function checkTrainStage(registry: PluginRegistry, file: string, st: TrainStage, where: string, teachers: string[]): void {
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
    throw new ConfigError(
      `unknown teacher ${quoteName(st.teacher)}; known: ${teachers.join(', ') || '(none: add a train-teacher or load-teacher stage before)'}`,
      file,
      `${where}.teacher`,
    );
  }
  if (st.loss.kind === 'distill-loss' && st.teacher === undefined) throw new ConfigError('a distillation loss needs a teacher', file, `${where}.teacher`);
}

/** A certify stage's methods: registered bound methods (with valid options and relaxations); with a timeout, the certifier stage's methods. */
export function checkCertifyMethods(registry: PluginRegistry, file: string, st: CertifyStage, where: string): void {
  st.methods.forEach((m, k) => {
    const ref = methodRef(m);
    const at = `${where}.methods.${k}`;
    if (st.timeout > 0 && !(VERIFY_METHODS as readonly string[]).includes(ref.name)) {
      throw new ConfigError(
        `unknown method ${quoteName(ref.name)} for complete certification; allowed: ${VERIFY_METHODS.join(', ')}`,
        file,
        typeof m === 'string' ? at : `${at}.name`,
      );
    }
    try {
      registry.get('bound-method', ref.name);
    } catch (e) {
      if (e instanceof CertkdError) throw new ConfigError(e.message, file, typeof m === 'string' ? at : `${at}.name`);
      throw e;
    }
    registry.parseOptions('bound-method', ref.name, ref.options, typeof m === 'string' ? at : `${at}.options`, file);
    if (ref.relaxations) checkRelaxations(registry, file, ref.relaxations, `${at}.relaxations`);
  });
  if (st.relaxations) checkRelaxations(registry, file, st.relaxations, `${where}.relaxations`);
  if (st.timeout > 0 && st.certifier) checkPlugin(registry, file, 'certifier-stage', st.certifier.name, st.certifier.options, `${where}.certifier`);
}

/** Every relaxation named is registered and covers the layer kind it is named for. */
export function checkRelaxations(registry: PluginRegistry, file: string | undefined, choice: Record<string, string>, field: string): void {
  for (const [kind, name] of Object.entries(choice)) {
    if (!registry.has('relaxation', name))
      throw new ConfigError(`unknown relaxation ${quoteName(name)}; registered: ${registry.names('relaxation').join(', ')}`, file, `${field}.${kind}`);
  }
  try {
    relaxationsFromRegistry(registry, choice, field);
  } catch (e) {
    // Raised without the file: name it, keeping the field and the reason.
    if (e instanceof ConfigError && !e.file) throw new ConfigError(e.message.slice(e.field ? e.field.length + 2 : 0), file, e.field);
    throw e;
  }
}

/** A methods entry as { name, options, relaxations }. */
export function methodRef(m: MethodRef): { name: string; options: Record<string, unknown>; relaxations?: Record<string, string> } {
  return typeof m === 'string' ? { name: m, options: {} } : m;
}

/** The bound-method plugin options of a methods entry: its options plus its relaxations (else the stage's). */
export function boundMethodOptions(
  ref: { options: Record<string, unknown>; relaxations?: Record<string, string> },
  stageRelaxations?: Record<string, string>,
): Record<string, unknown> {
  const relaxations = ref.relaxations ?? stageRelaxations;
  return relaxations ? { ...ref.options, relaxations } : ref.options;
}

/** The plugin is registered (else `<where>.name`) and its options parse (else `<where>.options.<field>`). */
export function checkPlugin(registry: PluginRegistry, file: string, kind: PluginKind, name: string, options: unknown, where: string): void {
  try {
    registry.get(kind, name);
  } catch (e) {
    if (e instanceof CertkdError) throw new ConfigError(e.message, file, `${where}.name`);
    throw e;
  }
  registry.parseOptions(kind, name, options, `${where}.options`, file);
}

export function checkModels(names: string[] | undefined, known: string[], file: string, field: string): void {
  for (const n of names ?? []) {
    if (!known.includes(n)) throw new ConfigError(`unknown model ${quoteName(n)}; models so far: ${known.join(', ') || '(none)'}`, file, field);
  }
}
