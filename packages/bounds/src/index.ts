export type { BoundOptions, Bounds, Interval, LowerUpper, LayerContext, BackwardResult, Relaxation, RelaxationSet, BoundMethod } from './types';
export { boxAround, specMatrix } from './box';
export { ibp } from './methods/ibp';
export { crownIbp, crown, ROW_BUDGET } from './methods/crown';
export { alphaCrown, mergeAlphaCertificates } from './methods/alpha-crown';
export {
  DEFAULT_MEMORY_BUDGET,
  backwardBytes,
  backwardFlopsPerRow,
  FLOPS_PER_STEP,
  optimisedPassBytes,
  intervalBytes,
  methodRowBytes,
  methodFits,
  rowsThatFit,
  widestActivation,
} from './methods/memory';
export { roundingErrorBound, gamma32, FLOAT32_UNIT_ROUNDOFF } from './rounding';
export { backwardLower } from './methods/engine';
export type { BackwardHooks, Problem as BoundProblem } from './methods/engine';
export type { RoundingErrorBound } from './rounding';
export type { AlphaCertificate, AlphaCrownOptions } from './methods/alpha-crown';
export { BOUND_METHOD_NAMES, createBoundMethod } from './methods/bound-methods';
export type { BoundMethodName } from './methods/bound-methods';
export { boundReport } from './report';
export { boundDiagnostics } from './diagnostics';
export type { BoundDiagnostics } from './diagnostics';
export type { BoundReport } from './report';
export { registerBounds, relaxationsFromRegistry, relaxationChoiceSchema } from './register';
export { ActivationRelaxation, ReluRelaxation, reluPieces } from './relaxations/activation';
export type { ActivationLines } from './relaxations/activation';
export { NormalizeRelaxation } from './relaxations/normalize';
export { Conv2DRelaxation } from './relaxations/conv2d';
export { DenseRelaxation } from './relaxations/dense';
export { BatchNormRelaxation } from './relaxations/batchnorm';
export { FlattenRelaxation, TapRelaxation } from './relaxations/reshape';
export { AvgPoolRelaxation } from './relaxations/avgpool';
export { builtinRelaxations, defaultRelaxations, relaxationSet, withRelaxations } from './relaxations/default-set';
export { checkConformance, checkNetwork, checkActivationLines, conformanceNetworkNames } from './conformance/check';
export type { ConformanceOptions, ConformanceViolation } from './conformance/check';
export { runRelaxationConformance } from './conformance/jest';
export { CONFORMANCE_SPECS, buildConformanceNetwork } from './conformance/networks';
export type { ConformanceNetwork } from './conformance/networks';
