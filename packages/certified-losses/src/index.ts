export { lossOverLowerBounds, crossEntropy } from './loss-over-lower-bounds';
// The tensor helpers live in @certkd/core; re-exported here for existing imports.
export { crossEntropyPerSample, detach, detachStats } from '@certkd/core';
export { logitDifferences, applySpec } from './logit-differences';
export { epsSchedule, crownIbpBeta } from './eps-schedule';
export type { EpsScheduleOptions } from './eps-schedule';
export { intervalTrace } from './interval-trace';
export type { IntervalTrace, CentreRadius } from './interval-trace';
export { headLayerIndex, headLowerBound, headLogits } from './head-bounds';
export { shiRegularisers, l1Penalty, regulariserWeight } from './regularisers';
export type { ShiRegularisers, ShiRegulariserOptions } from './regularisers';
export { randomStartPgd } from './training-attack';
export type { TrainingAttackOptions } from './training-attack';
export { CertifiedBatch } from './certified-batch';
export type { CertifiedBatchSettings } from './certified-batch';
export { IbpLoss, ibpLossOptions, ibpLossPlugin } from './losses/ibp-loss';
export type { IbpLossOptions } from './losses/ibp-loss';
export { CrownIbpLoss, crownIbpLossOptions, crownIbpLossPlugin } from './losses/crown-ibp-loss';
export type { CrownIbpLossOptions } from './losses/crown-ibp-loss';
export { SabrLoss, sabrLossOptions, sabrLossPlugin } from './losses/sabr-loss';
export type { SabrLossOptions } from './losses/sabr-loss';
export { CcIbpLoss, ccIbpLossOptions, ccIbpLossPlugin, ccIbpObjective } from './losses/cc-ibp-loss';
export type { CcIbpLossOptions } from './losses/cc-ibp-loss';
export { MtlIbpLoss, mtlIbpLossOptions, mtlIbpLossPlugin } from './losses/mtl-ibp-loss';
export type { MtlIbpLossOptions } from './losses/mtl-ibp-loss';
export { ExpIbpLoss, expIbpLossOptions, expIbpLossPlugin, expIbpObjective } from './losses/exp-ibp-loss';
export type { ExpIbpLossOptions } from './losses/exp-ibp-loss';
export { StandardLoss, standardLossOptions, standardLossPlugin } from './losses/standard-loss';
export type { StandardLossOptions } from './losses/standard-loss';
export { CERTIFIED_LOSS_PLUGINS, registerCertifiedLosses } from './register';
export {
  l1Option,
  radiusOptions,
  attackOptions,
  alphaOption,
  regulariserOptions,
  relaxationOption,
  lossRelaxations,
  removedOption,
  TRAIN_EPS_FACTOR_REMOVED,
} from './loss-options';
export type { L1Settings, RadiusSettings, AttackSettings, RegulariserSettings } from './loss-options';
