import { z } from 'zod';
import { artifactNameSchema, runNameSchema } from './run-name';

/** Largest batch size a stage accepts (larger batches would not fit any backend's memory). */
export const MAX_BATCH_SIZE = 65536;
const batchSize = (d: number) => z.number().int().positive().max(MAX_BATCH_SIZE).default(d);

const pluginRef = z
  .object({
    name: z.string().min(1),
    options: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export const datasetSchema = z
  .object({
    name: z.string().min(1).default('mnist'),
    options: z.record(z.string(), z.unknown()).default({}),
    /** Folder with the user's files (datasets that are not bundled). */
    root: z.string().optional(),
    /** Hold out this many training examples (or this fraction if < 1) for validation. */
    validation: z.number().nonnegative().default(0),
    /** Use only this many training examples (seeded subset). */
    trainSubset: z.number().int().positive().optional(),
    /** Use only this many test examples (the first n). */
    testSubset: z.number().int().positive().optional(),
  })
  .strict();

export const optimizerSchema = z
  .object({
    name: z.enum(['adam']).default('adam'),
    lr: z.number().positive().default(1e-3),
    /** Epochs (0-based) at which the learning rate is multiplied by `decay`. */
    milestones: z.array(z.number().int().nonnegative()).default([]),
    decay: z.number().positive().max(1).default(0.2),
    /** Global gradient-norm clipping (0: off). */
    gradClip: z.number().nonnegative().default(10),
  })
  .strict();

export const epsSchema = z
  .object({
    /** Target L-inf radius in pixel space. */
    max: z.number().nonnegative().default(0),
    /** Epoch at which the eps ramp starts (eps is 0 before). */
    start: z.number().nonnegative().default(0),
    /** Ramp length in epochs (0: eps = max from the start epoch). */
    ramp: z.number().nonnegative().default(0),
  })
  .strict();

const lossRef = z
  .object({
    kind: z.enum(['certified-loss', 'distill-loss', 'teacher']).default('certified-loss'),
    name: z.string().min(1),
    options: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export const trainStageSchema = z
  .object({
    stage: z.enum(['train', 'train-teacher', 'train-student']),
    /** Name of the model this stage trains (the artifact later stages refer to). */
    model: artifactNameSchema.optional(),
    /**
     * The model's initialisation, data order and training randomness derive from the recipe seed
     * and this key (default: the role, 'teacher' for train-teacher, else 'student'), never from
     * the stage's position: students of two recipes with the same seed and key are paired.
     */
    seedKey: z.string().min(1).optional(),
    /**
     * A fixed seed for this model's random streams instead of the recipe seed: one teacher shared
     * by every seed of a sweep, while its students stay paired by the recipe seed. The data split
     * (validation, subsets) still follows the recipe seed.
     */
    seed: z.number().int().nonnegative().optional(),
    architecture: pluginRef.extend({ options: z.record(z.string(), z.unknown()).default({}) }),
    init: z.enum(['default', 'ibp']).default('default'),
    loss: lossRef.default({ kind: 'certified-loss', name: 'standard', options: {} }),
    /** Training attack plugin for losses that need adversarial inputs (default: the loss's own). */
    attack: pluginRef.optional(),
    /** Teacher model (artifact name) for distillation losses. */
    teacher: z.string().optional(),
    epochs: z.number().int().positive(),
    batchSize: batchSize(128),
    optimizer: optimizerSchema.default(optimizerSchema.parse({})),
    eps: epsSchema.default(epsSchema.parse({})),
    /**
     * Worker threads for data-parallel training: 1 trains in-process; 'auto' uses one worker per
     * core (at most 4) on the single-threaded wasm and cpu backends when the stage is long enough
     * to repay the workers' start-up.
     */
    workers: z.union([z.literal('auto'), z.number().int().positive()]).default('auto'),
    /**
     * train-teacher: reuse a teacher trained by an identical stage (same dataset, recipe seed,
     * plugins and stage settings) from the runs folder's cache (<runs>/.teachers/), and store
     * this one there after training, so the runs of a sweep train their teacher once.
     */
    cache: z.boolean().default(false),
    /**
     * Bound diagnostics at every epoch's end on the first n test points at the recipe's eps
     * (IBP, eval mode): penultimate feature-box width, unstable ReLUs, and the clean feature
     * distance to the stage's teacher; metrics.csv columns diag.*. Uses no randomness: the
     * trained weights are the same with or without it.
     */
    diagnostics: z
      .object({ n: z.number().int().positive().default(500) })
      .strict()
      .optional(),
  })
  .strict();

export const loadTeacherStageSchema = z
  .object({
    stage: z.literal('load-teacher'),
    model: artifactNameSchema.default('teacher'),
    /** CertKD model directory or .onnx file. */
    path: z.string().min(1),
    tap: z.string().default('penultimate'),
  })
  .strict();

export const evaluateStageSchema = z
  .object({
    stage: z.literal('evaluate'),
    /** Models to evaluate (default: every trained or loaded model). */
    models: z.array(z.string()).optional(),
    metrics: z.array(z.enum(['clean', 'pgd', 'apgd'])).default(['clean']),
    /** Attack plugins to evaluate robust accuracy with, besides the metrics (results: robust_acc.<name>). */
    attacks: z.array(pluginRef).optional(),
    /** Evaluation eps for attacks (default: the recipe's eps). */
    eps: z.number().nonnegative().optional(),
    /** Evaluate on the first n test points (default: all). */
    n: z.number().int().positive().optional(),
    batchSize: batchSize(500),
  })
  .strict();

/** Relaxation plugin per layer kind, e.g. { relu: zero-slope } (default: the relaxation named after the kind). */
export const relaxationChoice = z.record(z.string(), z.string());

/** A bound method by name, or with options and a relaxation set: { name: crown, relaxations: { relu: zero-slope } }. */
export const methodRefSchema = z.union([
  z.string().min(1),
  z
    .object({
      name: z.string().min(1),
      options: z.record(z.string(), z.unknown()).default({}),
      relaxations: relaxationChoice.optional(),
    })
    .strict(),
]);
export type MethodRef = z.infer<typeof methodRefSchema>;

export const certifyStageSchema = z
  .object({
    stage: z.literal('certify'),
    models: z.array(z.string()).optional(),
    /** Bound method plugins tried in order per point (with a timeout: the escalation's incomplete methods). */
    methods: z.array(methodRefSchema).default(['ibp', 'crown']),
    /** Relaxation set of every method (an entry's own relaxations win) and of branch and bound. */
    relaxations: relaxationChoice.optional(),
    /** Certifier-stage plugin of complete certification (a timeout > 0). */
    certifier: pluginRef.optional(),
    eps: z.number().nonnegative().optional(),
    n: z.number().int().positive().optional(),
    batchSize: batchSize(100),
    /** Escalate to complete verification with this per-point timeout in seconds (0: incomplete methods only). */
    timeout: z.number().nonnegative().default(0),
    workers: z.number().int().positive().default(1),
  })
  .strict();

export const reportStageSchema = z
  .object({
    stage: z.literal('report'),
    formats: z.array(z.enum(['md', 'html'])).default(['md', 'html']),
  })
  .strict();

export const builtinStageSchema = z.discriminatedUnion('stage', [
  trainStageSchema,
  loadTeacherStageSchema,
  evaluateStageSchema,
  certifyStageSchema,
  reportStageSchema,
]);

/** The stage names the pipeline itself registers (stage plugins of @certkd/pipeline). */
export const BUILTIN_STAGE_NAMES = ['train', 'train-teacher', 'train-student', 'load-teacher', 'evaluate', 'certify', 'report'] as const;

/**
 * A stage of a plugin package: its name and its options, checked by the stage plugin's own
 * schema once the recipe's plugins are loaded (validateRecipe).
 */
export const pluginStageSchema = z.object({ stage: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a stage name is lowercase kebab-case') }).catchall(z.unknown());

const isBuiltin = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && (BUILTIN_STAGE_NAMES as readonly unknown[]).includes((v as { stage?: unknown }).stage);

/** A built-in stage (checked, defaults filled in here), or a registered stage plugin's entry. */
export const stageSchema = z.union([builtinStageSchema, pluginStageSchema]).superRefine((v, ctx) => {
  // A misspelt field of a built-in stage must not pass as a plugin stage's entry.
  if (!isBuiltin(v)) return;
  const r = builtinStageSchema.safeParse(v);
  if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ ...issue } as never);
});

/** An extra sink of the run's events (a sink plugin), beside the event log and metrics CSV. */
export const sinkRefSchema = pluginRef;

export const recipeSchema = z
  .object({
    /** Run name: runs/<name> is the run's folder (see run-name.ts). */
    name: runNameSchema,
    description: z.string().default(''),
    seed: z.number().int().nonnegative().default(0),
    backend: z.enum(['auto', 'tensorflow', 'onnxruntime', 'wasm', 'cpu']).default('auto'),
    /** Third-party plugin packages: each exports `register(container)`. */
    plugins: z.array(z.string()).default([]),
    dataset: datasetSchema,
    /** The certification radius the run is about (pixel space); stages default to it. */
    eps: z.number().nonnegative().default(0),
    stages: z.array(stageSchema).min(1),
    /** Extra event sinks (sink plugins); every run also writes events.jsonl and metrics.csv. */
    sinks: z.array(sinkRefSchema).optional(),
  })
  .strict();

export type Recipe = z.infer<typeof recipeSchema>;
export type Stage = z.infer<typeof stageSchema>;
export type BuiltinStage = z.infer<typeof builtinStageSchema>;
export type PluginStageEntry = z.infer<typeof pluginStageSchema>;
export type SinkRef = z.infer<typeof sinkRefSchema>;
export type TrainStage = z.infer<typeof trainStageSchema>;
export type LoadTeacherStage = z.infer<typeof loadTeacherStageSchema>;
export type EvaluateStage = z.infer<typeof evaluateStageSchema>;
export type CertifyStage = z.infer<typeof certifyStageSchema>;
export type ReportStage = z.infer<typeof reportStageSchema>;
