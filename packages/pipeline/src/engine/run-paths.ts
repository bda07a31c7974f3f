import * as path from 'path';
import { ConfigError } from '@certkd/core';
import { checkRunName } from '../recipe/run-name';

/** Where a run writes: runs/<name>/{recipe.yaml, events.jsonl, checkpoint/, models/, results.json, report/, run.lock}. */
export class RunPaths {
  constructor(readonly root: string) {}
  /**
   * The run `name` in `runsDir`. The name must be one safe path component (`field` names where
   * it came from in the error), and the run directory is always a direct child of the runs folder.
   */
  static forRun(runsDir: string, name: string, file?: string, field = 'name'): RunPaths {
    checkRunName(name, file, field);
    const dir = path.resolve(runsDir);
    const root = path.resolve(dir, name);
    if (path.dirname(root) !== dir) throw new ConfigError(`run directory ${root} would not lie inside the runs folder ${dir}`, file, field);
    return new RunPaths(root);
  }
  /** The runs folder holding this run. */
  get runsDir(): string {
    return path.dirname(this.root);
  }
  /** Held while a process writes the run (see run-lock.ts). */
  get lock(): string {
    return path.join(this.root, 'run.lock');
  }
  get config(): string {
    return path.join(this.root, 'recipe.yaml');
  }
  get log(): string {
    return path.join(this.root, 'events.jsonl');
  }
  get checkpoint(): string {
    return path.join(this.root, 'checkpoint');
  }
  get state(): string {
    return path.join(this.root, 'state.json');
  }
  get results(): string {
    return path.join(this.root, 'results.json');
  }
  get metrics(): string {
    return path.join(this.root, 'metrics.csv');
  }
  get report(): string {
    return path.join(this.root, 'report');
  }
  model(name: string): string {
    return path.join(this.root, 'models', name);
  }
}
