/** wa-sync as a library: what the `wa-sync` bin wires together. */
export { runCli, type CliIo } from './cli';
export * from './config';
export * from './errors';
export { openDatabase, type Database } from './db/knex';
export { migrateToLatest } from '@wa-session-sync/shared/dist/db/migrations';
export { readActiveAccounts, writeAccounts, ACCOUNTS_TABLE } from './db/accounts';
export { acquireSyncLock, SYNC_LOCK_KEY } from './db/lock';
export { WorkerClient, validateSessions } from './worker-client';
export * from './sync/model';
export { plan, settle, NOT_FOUND_REASON, PERSON_MUST_ACT, TRIGGERED_BY } from './sync/plan';
export { runSync } from './sync/run';
export type { ChangeResult, MismatchReport, SyncOutcome, SyncReport } from './sync/outcome';
export { renderReport, reportJson } from './sync/report';
