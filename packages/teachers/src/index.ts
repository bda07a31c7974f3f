export { maximizeInBox, klPerSample, type InnerMaxOptions } from './inner-max';
// The box and cross-entropy live in @certkd/core; re-exported here for existing imports.
export { linfBox as epsBox, crossEntropyPerSample } from '@certkd/core';
export { PgdAtLoss, DEFAULT_PGD_AT_OPTIONS, type PgdAtOptions } from './pgd-at';
export { TradesLoss, DEFAULT_TRADES_OPTIONS, type TradesOptions } from './trades';
export { loadTeacher, NetworkTeacher, type LoadTeacherOptions } from './load-teacher';
export { pgdAtPlugin, tradesPlugin, pgdAtOptionsSchema, tradesOptionsSchema, registerTeachers } from './plugins';
