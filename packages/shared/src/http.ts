import type { SessionStatus } from './status';

/** One session as the worker reports it on `/api/sessions`. */
export interface WorkerSession {
  session_id: string;
  workspace_id: string;
  status: SessionStatus;
  /** Digits only, e.g. `62811801641`; null until the session is paired. */
  phone_number: string | null;
  /** ISO-8601 UTC time of the last status change. */
  updated_at: string;
  /** Present while `qr_scanning`. */
  qr?: string | null;
  /** Why the session is in its status, when the worker knows (e.g. `LOGOUT`, `CONFLICT`). */
  reason?: string | null;
  /** Reconnect attempts made since the session was last connected. */
  reconnect_attempts?: number;
  [extra: string]: unknown;
}

/** `GET /health` */
export interface HealthResponse {
  status: 'ok';
  /** Seconds since the worker started. */
  uptime: number;
  sessions: {
    total: number;
    connected: number;
    by_status: Partial<Record<SessionStatus, number>>;
  };
  memory: Record<string, number>;
  version: string;
  [extra: string]: unknown;
}

/** `GET /api/sessions` */
export interface SessionsListResponse {
  sessions: WorkerSession[];
}

/** `POST /api/sessions` body */
export interface CreateSessionRequest {
  session_id: string;
  workspace_id: string;
}

/** Every error answer of the worker. */
export interface ErrorResponse {
  error: { code: string; message: string };
}
