// The box and tensor helpers live in @certkd/core; re-exported here for existing imports.
export { linfBox, disposeBox, clipToBox, halfWidth, uniformInBox, detach, crossEntropyPerSample as perSampleCrossEntropy } from '@certkd/core';
export { attackLogits, attackObjective, lossAndInputGrad, lossAt, type LossAndGrad } from './objective';
export { Fgsm, type FgsmOptions } from './fgsm';
export { Pgd, DEFAULT_PGD_OPTIONS, scheduledStep, type PgdOptions, type StepSchedule } from './pgd';
export { ApgdCe, DEFAULT_APGD_OPTIONS, apgdCheckpoints, type ApgdOptions } from './apgd';
export { fgsmPlugin, pgdPlugin, apgdCePlugin, fgsmOptionsSchema, pgdOptionsSchema, apgdOptionsSchema, registerAttacks } from './plugins';
export {
  robustAccuracy,
  defaultEvalAttacks,
  EVAL_PGD_OPTIONS,
  EVAL_APGD_OPTIONS,
  type EvalBatch,
  type RobustAccuracy,
  type RobustAccuracyOptions,
} from './robust-accuracy';
export { createAttackFixture, checkAttackConformance, ATTACK_CONFORMANCE_CHECKS, type AttackFixture, type AttackConformanceCheck } from './conformance';
