export { loadSweep, sweepSchema, MAX_SWEEP_RUNS, type SweepFile, type LoadedSweep } from './sweep/sweep-file';
export {
  planSweep,
  expandSweep,
  setPath,
  canonical,
  TEACHERS_DIR,
  SWEEPS_DIR,
  type SweepPlan,
  type ExpandedRun,
  type SharedTeacher,
  type Axis,
} from './sweep/expand';
export {
  sweepJobs,
  runJobId,
  teacherJobId,
  describeJob,
  type JobData,
  type JobResult,
  type RunJobData,
  type CertifyShardData,
  type VerifyShardData,
  type PlannedJob,
} from './jobs';
export { executeJob, childScript, JobInputError, JobBusyError, type ExecuteOptions } from './run-job';
export { runComplete } from './run-state';
export { JOB_ATTEMPTS, BACKOFF_MS, RECHECK_MS, type JobQueue, type JobStatus, type JobStateName, type EnqueueResult } from './queue/types';
export { LocalQueue, type DrainOptions } from './queue/local-queue';
export { BullQueue, startWorker, redisConnection, checkRedisUrl, waitForRedis, QUEUE_NAME, type WorkerOptions, type RunningWorker } from './queue/bullmq-queue';
export { sweepQueue, enqueueSweep, runSweepLocally } from './sweep';
export { sweepStatus, storeState, type SweepStatus, type SweepStatusRow } from './status';
export {
  aggregateSweep,
  writeSweepReport,
  stats,
  tQuantile975,
  type SweepReport,
  type SettingRow,
  type PairRow,
  type Interval,
  type WrittenReport,
} from './report';
export { certifyPointsOnQueue, verifyInstancesOnQueue, DEFAULT_SHARD_SIZE, type CertifyShardsOptions, type VerifyShardsOptions } from './shards';
