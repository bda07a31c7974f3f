import * as path from 'path';

/** Where a run writes: runs/<name>/{recipe.yaml, events.jsonl, checkpoint/, models/, results.json, report/}. */
export class RunPaths {
  constructor(readonly root: string) {}
  static forRun(runsDir: string, name: string): RunPaths {
    return new RunPaths(path.resolve(runsDir, name));
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
