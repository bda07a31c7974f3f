import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PipelineEvent } from '@certkd/core';
import { MetricsCsv } from './jsonl-log';

const epoch = (stage: string, n: number, parts: Record<string, number>, diagnostics?: Record<string, number>): PipelineEvent => ({
  type: 'epoch-end',
  stage,
  epoch: n,
  epochs: 2,
  loss: n / 10,
  parts,
  eps: 0.1,
  lr: 0.001,
  wall_s: 1,
  ...(diagnostics ? { diagnostics } : {}),
});

describe('metrics.csv', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-metrics-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const table = (f: string) => {
    const [head, ...rows] = fs
      .readFileSync(f, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    return rows.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
  };

  it('widens its header when a later stage reports other parts, across a reopen (resume), keeping every row', () => {
    const f = path.join(dir, 'metrics.csv');
    const a = new MetricsCsv(f);
    a.write(epoch('train-teacher', 1, { adv: 0.5 }));
    a.write(epoch('train-teacher', 2, { adv: 0.4 }));
    a.close();
    const b = new MetricsCsv(f);
    b.write(epoch('train-student', 1, { 'cc-ibp': 0.7, l1: 0.01 }, { feature_box_width: 0.3 }));
    b.write(epoch('train-student', 2, { 'cc-ibp': 0.6, l1: 0.02 }, { feature_box_width: 0.2 }));
    b.close();
    const t = table(f);
    expect(t.map((r) => [r.stage, r.epoch])).toEqual([
      ['train-teacher', '1'],
      ['train-teacher', '2'],
      ['train-student', '1'],
      ['train-student', '2'],
    ]);
    expect(t.map((r) => r.adv)).toEqual(['0.5', '0.4', '', '']);
    expect(t.map((r) => r['cc-ibp'])).toEqual(['', '', '0.7', '0.6']);
    expect(t.map((r) => r['diag.feature_box_width'])).toEqual(['', '', '0.3', '0.2']);
    expect(fs.readdirSync(dir)).toEqual(['metrics.csv']);
  });
});
