export type { Verdict, VerdictKind, DecidingMethod, OutputRow } from './verdict';
export { VERDICT_KINDS, isVerified, verdictToJson } from './verdict';
export type { Property } from './property';
export { checkProperty, robustnessDisjuncts } from './property';
export type { VerifyOptions, VerifyMethod } from './verify';
export { VERIFY_METHODS, verifyProperty, confirmWitness, evalFlat } from './verify';
export type { VnncompWord, VnnlibResult } from './vnnlib';
export { verifyVnnlib, vnnlibToProperty, networkToOnnxOrder, formatCounterexample, verdictWord } from './vnnlib';
export type { PointResult, CertifySummary, CertifyPointsOptions } from './dataset';
export { certifyDataset, certifyPoint, summarize, linfBox } from './dataset';
export type { CertifierStage } from './register';
export { registerCertifier, escalationOptions } from './register';
export type { CertifierBounds } from './bound-source';
export { certifierBounds, builtinCertifierBounds } from './bound-source';
export type { VnnlibTask, TaskRecord, BatchOptions, RunSummary } from './batch';
export {
  runVnnlibTask,
  runVnnlibTaskSafely,
  runInstancesCsv,
  instanceTasks,
  runDatasetPoints,
  doneKeys,
  repairJsonl,
  workerScript,
  instanceKey,
  readTaskRecords,
  summarizeTaskRecords,
  ERROR_RESULT,
} from './batch';
export type { CertifyPointsRunOptions, PointRecord, PointsSummary, PointTask, PointVerifyKnobs } from './points';
export { certifyPoints, readPointRecords, summarizeRecords, pointRecord } from './points';
export { isBackendFault, markBackendFault, backendFaulted, rebuildBackend, rebuildBackendIfFaulted } from './backend-health';
