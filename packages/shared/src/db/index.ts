// The Postgres store both processes use: the schema's migrations, the session leases, the saved
// logins. Imported by its path (`@wa-session-sync/shared/dist/db`), not from shared's index, so
// what imports shared for its types does not load this.
export { migrateToLatest, migrateDown, MIGRATION_NAMES } from './migrations';
export { acquireLease, renewLeases, releaseLease, listLeases } from './leases';
export type { AcquireResult, AcquireLease, LeaseRow } from './leases';
export { saveAuth, loadAuth, authInfo, deleteAuth } from './auth-store';
export type { SaveResult, AuthSnapshot, SavedAuth, AuthInfo } from './auth-store';
