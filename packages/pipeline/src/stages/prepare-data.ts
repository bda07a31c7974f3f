import * as path from 'path';
import { ConfigError, SeededRng } from '@certkd/core';
import { splitTrainValidation, subset } from '@certkd/datasets';
import { RunContext } from '../engine/context';
import { asyncStage } from '../engine/async-stage';
import { deriveSeed } from '../engine/seeds';

/** Load the recipe's dataset, hold out validation data and take subsets (all seeded). */
export function prepareDataStage(ctx: RunContext) {
  return asyncStage(ctx, async (emit) => {
    const d = ctx.recipe.dataset;
    const source = ctx.registry.create('dataset', d.name, d.options, 'dataset');
    // A relative root is relative to the recipe file, like every path in a recipe.
    const root = d.root === undefined ? undefined : path.resolve(path.dirname(ctx.recipeFile), d.root);
    const ds = await source.load({ root, cacheDir: undefined });
    ctx.dataset = ds;
    const rng = new SeededRng(deriveSeed(ctx.recipe.seed, 0xda7a));
    let train = ds.train;
    if (d.validation > 0) {
      const count = d.validation < 1 ? Math.round(d.validation * train.size) : d.validation;
      if (count >= train.size)
        throw new ConfigError(`validation (${count}) must be smaller than the training set (${train.size})`, ctx.recipeFile, 'dataset.validation');
      const parts = splitTrainValidation(train, count, rng);
      train = parts.train;
      ctx.validation = parts.validation;
    }
    if (d.trainSubset) train = subset(train, Math.min(d.trainSubset, train.size), rng);
    ctx.train = train;
    ctx.test = d.testSubset ? subset(ds.test, Math.min(d.testSubset, ds.test.size)) : ds.test;
    emit({
      type: 'log',
      stage: 'prepare-data',
      message: `${ds.name}: ${ctx.train.size} train, ${ctx.validation?.size ?? 0} validation, ${ctx.test.size} test examples of [${ds.input.shape.join('x')}], ${ds.input.classes} classes`,
    });
  });
}
