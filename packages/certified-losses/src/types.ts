import type { BatchStatsMap, InputBox, LossContext, LossOutput, TrainingLoss } from '@certkd/core';

export type { BatchStatsMap, InputBox, LossContext, LossOutput, TrainingLoss };

/** The BatchNorm part of bounds' options. */
export interface BoundOptionsLike {
  mode: 'train' | 'eval';
  bnStats?: BatchStatsMap;
}
