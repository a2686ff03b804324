import { StringEnum } from './schema-kinds';

/**
 * The one status vocabulary shared by the worker, the database and the CLI.
 * Only `connected` means messages flow.
 */
export const SESSION_STATUSES = [
  'initializing',
  'qr_scanning',
  'authenticated',
  'connected',
  'reconnecting',
  'disconnected',
  'failed',
] as const;

export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** The vocabulary as a schema (`{"type":"string","enum":[...]}`). */
export const SessionStatusSchema = StringEnum(SESSION_STATUSES, { description: 'Only `connected` means messages flow' });

const STATUS_SET: ReadonlySet<string> = new Set(SESSION_STATUSES);

export function isSessionStatus(value: unknown): value is SessionStatus {
  return typeof value === 'string' && STATUS_SET.has(value);
}

/** Statuses of a session that is not running and will not come back on its own. */
export const DEAD_STATUSES: readonly SessionStatus[] = ['disconnected', 'failed'];

export function isDeadStatus(status: SessionStatus): boolean {
  return DEAD_STATUSES.includes(status);
}
