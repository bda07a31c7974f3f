export { maximizeInBox, epsBox, crossEntropyPerSample, klPerSample, type InnerMaxOptions } from './inner-max';
export { PgdAtLoss, DEFAULT_PGD_AT_OPTIONS, type PgdAtOptions } from './pgd-at';
export { TradesLoss, DEFAULT_TRADES_OPTIONS, type TradesOptions } from './trades';
export { loadTeacher, NetworkTeacher, type LoadTeacherOptions } from './load-teacher';
export { pgdAtPlugin, tradesPlugin, pgdAtOptionsSchema, tradesOptionsSchema, registerTeachers } from './plugins';
