export { LossBatch, DEFAULT_BATCH_SETTINGS } from './loss-batch';
export type { LossBatchSettings, FeatureBox } from './loss-batch';
export { BatchLoss, defineLoss, baseLossOptions } from './batch-loss';
export type { BatchLossResult, BaseLossOptions, LossDefinition } from './batch-loss';
export { intervalThroughLinear } from './interval-linear';
export { CcDistLoss, ccDistOptions, ccDistPlugin, convexFeatureBox, worstCaseDistillation } from './cc-dist-loss';
export type { CcDistOptions } from './cc-dist-loss';
export { AdCertLoss, adCertOptions, adCertPlugin, klDivergence } from './ad-cert-loss';
export type { AdCertOptions } from './ad-cert-loss';
// Re-exported from the shared engine for custom losses written against this package.
export { lossOverLowerBounds, crossEntropy, crossEntropyPerSample, detach, relaxationOption } from '@certkd/certified-losses';
export { DISTILL_LOSS_PLUGINS, registerDistillLosses } from './register';
