import type { Recipe } from '@certkd/pipeline';
import type { PointRecord, TaskRecord, VerifyMethod, VnnlibTask } from '@certkd/certifier';
import { TEACHERS_DIR, SweepPlan } from './sweep/expand';

/** Run a recipe into <store>/<dir>/<run> with resume semantics (a retried job continues from the last checkpoint). */
export interface RunJobData {
  kind: 'run';
  /** The sweep it belongs to (for status and messages). */
  sweep: string;
  /** Run name: its folder in the store. */
  run: string;
  /** '' for sweep runs, '_teachers' for shared teachers. */
  dir: string;
  recipe: Recipe;
  /** Job ids that must complete first (shared teachers). */
  after: string[];
}

/** Certify dataset points (flat inputs, base64 of float32) of one model. */
export interface CertifyShardData {
  kind: 'certify-shard';
  /** Absolute path of a CertKD model directory or ONNX file, visible to the workers. */
  model: string;
  eps: number;
  timeoutS: number;
  methods: VerifyMethod[];
  seed: number;
  points: { index: number; label: number; x: string }[];
}

/** Verify VNN-COMP instances (absolute paths visible to the workers). */
export interface VerifyShardData {
  kind: 'verify-shard';
  tasks: VnnlibTask[];
}

export type JobData = RunJobData | CertifyShardData | VerifyShardData;

export interface RunJobResult {
  kind: 'run';
  run: string;
  /** Seconds the run itself took in this attempt (0 when it was already complete). */
  wall_s: number;
  /** Whether the run was already complete when the job started (a duplicate delivery). */
  already_done: boolean;
}

export type JobResult = RunJobResult | { kind: 'certify-shard'; records: PointRecord[] } | { kind: 'verify-shard'; records: TaskRecord[] };

/** A job to enqueue: a deterministic id (re-enqueueing never duplicates), a name and its data. */
export interface PlannedJob {
  id: string;
  data: JobData;
}

export const runJobId = (run: string) => `run.${run}`;
export const teacherJobId = (teacher: string) => `teacher.${teacher}`;

/** The jobs of a sweep: shared teachers first, then the runs (each waiting for its teachers). */
export function sweepJobs(plan: SweepPlan): PlannedJob[] {
  const sweep = plan.loaded.sweep.name;
  return [
    ...plan.teachers.map((t) => ({
      id: teacherJobId(t.name),
      data: { kind: 'run', sweep, run: t.name, dir: TEACHERS_DIR, recipe: t.recipe, after: [] } as RunJobData,
    })),
    ...plan.runs.map((r) => ({
      id: runJobId(r.name),
      data: { kind: 'run', sweep, run: r.name, dir: '', recipe: r.recipe, after: r.teachers.map(teacherJobId) } as RunJobData,
    })),
  ];
}

/** What a job is, in one phrase (for logs and errors). */
export function describeJob(d: JobData): string {
  if (d.kind === 'run') return d.dir ? `teacher ${d.run}` : `run ${d.run}`;
  if (d.kind === 'certify-shard') return `certify points ${d.points[0]?.index}-${d.points[d.points.length - 1]?.index}`;
  return `verify ${d.tasks.length} instance(s) from ${d.tasks[0]?.key}`;
}
