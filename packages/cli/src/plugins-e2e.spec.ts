import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const bin = path.resolve(__dirname, '../bin/certkd.js');
const examples = path.resolve(__dirname, '../../examples');
const certkd = (args: string[], cwd = process.cwd()) => spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 240000 });

/** A recipe that loads every example package through `plugins:` and uses each of them. */
function recipe(eps: number): string {
  const plugins = ['relaxation-zero-slope', 'bound-method-example', 'loss-example', 'attack-example', 'stage-example', 'sink-example'].map((p) =>
    path.join(examples, p),
  );
  return [
    'name: plugin-proof',
    'backend: cpu',
    'seed: 2',
    `plugins: ${JSON.stringify(plugins)}`,
    'sinks: [{ name: event-types, options: { file: events.txt } }]',
    'dataset: { name: synthetic, options: { n: 96, testN: 48, shape: [6, 6, 1], classes: 3, seed: 1 } }',
    `eps: ${eps}`,
    'stages:',
    '  - { stage: train-teacher, architecture: { name: mlp, options: { hidden: [16] } }, epochs: 1, batchSize: 32 }',
    '  - { stage: train-student, model: net, teacher: teacher, architecture: { name: mlp, options: { hidden: [16] } }, epochs: 2, batchSize: 32, attack: { name: vertex },',
    '      loss: { kind: distill-loss, name: adv-feature-mse, options: { alpha: 0.5, beta: 0.1 } }, eps: { max: 0.02 } }',
    '  - { stage: summary-file, file: summary.json }',
    '  - { stage: evaluate, models: [net], metrics: [clean], attacks: [{ name: vertex }] }',
    '  - stage: certify',
    '    models: [net]',
    '    methods: [crown, { name: crown, relaxations: { relu: zero-slope } }, ibp-crown-meet]',
    '',
  ].join('\n');
}

describe("example plugin packages, loaded only through a recipe's plugins: by `certkd run`", () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-plugins-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs every example kind and each takes effect', () => {
    const file = path.join(dir, 'proof.yaml');
    fs.writeFileSync(file, recipe(0.04));
    const r = certkd(['run', file, '--runs-dir', path.join(dir, 'runs'), '--allow-external-plugins']);
    expect(r.stderr).toContain('run plugin-proof ok');
    expect(r.status).toBe(0);
    const run = path.join(dir, 'runs', 'plugin-proof');
    const results = JSON.parse(fs.readFileSync(path.join(run, 'results.json'), 'utf8'));
    const net = results.models.net;
    // loss: the student trained with the example loss, whose parts reach the epoch events
    expect(net.trained_with).toMatch(/adv-feature-mse/);
    const events = fs
      .readFileSync(path.join(run, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(events.some((e) => e.type === 'epoch-end' && e.stage === 'train-student' && 'feature-mse' in e.parts)).toBe(true);
    // attack: evaluated with the example attack
    expect(net.robust_acc.vertex).toBeGreaterThanOrEqual(0);
    expect(net.robust_acc.vertex).toBeLessThanOrEqual(net.clean_acc);
    // relaxation and bound method: each methods entry is counted under its own name
    const by = net.certified_by_method;
    expect(Object.keys(by)).toEqual(['crown', 'crown[relu=zero-slope]', 'ibp-crown-meet']);
    expect(by['crown[relu=zero-slope]']).not.toBe(by.crown);
    expect(by['crown[relu=zero-slope]']).toBeLessThanOrEqual(by.crown);
    expect(by['ibp-crown-meet']).toBeGreaterThanOrEqual(by.crown);
    // stage: ran in order, after the two training stages and before evaluate
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ stage: 3, models: ['teacher', 'net'] });
    expect(summary.results.net?.clean_acc).toBeUndefined();
    // sink: received the whole event stream, in order
    const lines = fs.readFileSync(path.join(run, 'events.txt'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(events.length);
    expect(lines[0]).toBe('run-start');
    expect(lines[lines.length - 1]).toBe('run-end');
    const starts = lines.filter((l) => l.startsWith('stage-start')).map((l) => l.split(' ')[1]);
    expect(starts).toEqual(['prepare-data', 'train-teacher', 'train-student', 'summary-file', 'evaluate', 'certify']);
  }, 240000);

  it('lists every kind with its built-ins and the plugins of --plugin', () => {
    const r = certkd(['plugins', '--json', '--plugin', path.join(examples, 'sink-example'), path.join(examples, 'stage-example')]);
    expect(r.status).toBe(0);
    const rows = JSON.parse(r.stdout) as { kind: string; name: string }[];
    const names = (kind: string) => rows.filter((x) => x.kind === kind).map((x) => x.name);
    expect(names('stage')).toEqual(['certify', 'evaluate', 'load-teacher', 'report', 'summary-file', 'train', 'train-student', 'train-teacher']);
    expect(names('sink')).toEqual(['console', 'event-types', 'jsonl-log', 'metrics-csv']);
    expect(names('certifier-stage')).toEqual(['escalation']);
    for (const kind of ['dataset', 'architecture', 'relaxation', 'bound-method', 'attack', 'teacher', 'certified-loss', 'distill-loss'])
      expect(names(kind).length).toBeGreaterThan(0);
  });

  it('names a relaxation for certkd bounds with --relaxation and --plugin', () => {
    const model = path.join(dir, 'runs', 'plugin-proof', 'models', 'net');
    const input = path.join(dir, 'x.json');
    fs.writeFileSync(input, JSON.stringify(Array.from({ length: 36 }, (_, i) => (i % 7) / 7)));
    const run = (extra: string[]) => certkd(['bounds', model, '--input', input, '--eps', '0.1', '--json', '--backend', 'cpu', ...extra]);
    const std = run([]);
    expect(std.status).toBe(0);
    const zero = run(['--relaxation', 'relu=zero-slope', '--plugin', path.join(examples, 'relaxation-zero-slope')]);
    expect(zero.status).toBe(0);
    expect(JSON.parse(zero.stdout).out_lower).not.toEqual(JSON.parse(std.stdout).out_lower);
    const unknown = run(['--relaxation', 'relu=zero-slope']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/--relaxation\.relu: unknown relaxation 'zero-slope'/);
    const meet = run(['--method', 'ibp-crown-meet', '--plugin', path.join(examples, 'bound-method-example')]);
    expect(meet.status).toBe(0);
    expect(JSON.parse(meet.stdout).method).toBe('ibp-crown-meet');
  });
});
