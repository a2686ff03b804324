import { REASONS, stateReason } from '@wa-session-sync/shared';
import { TimeoutError, withTimeout } from '../util';
import type { SessionRecord } from './record';
import { holdsBrowser } from './state';

/** What one live probe of a session found. */
export type ProbeVerdict =
  /** Nothing to look at yet (launching, stopped) or not expected to answer (`qr_scanning`, ...). */
  | { kind: 'skipped' }
  | { kind: 'alive' }
  /** The browser or page is gone, or the connected page does not answer: the session is lost. */
  | { kind: 'lost'; reason: string };

/**
 * One live probe: the browser connected and the page open, and for a `connected` session
 * `getState()` answering CONNECTED within `timeoutMs` (a wedged page never answers). Pure over
 * the client; the caller decides what a verdict changes, and must check the record did not move on
 * while `getState()` was pending.
 */
export async function probeSession(record: SessionRecord, timeoutMs: number): Promise<ProbeVerdict> {
  const client = record.client;
  // A client still launching has no browser to look at yet; the init timeout bounds that phase.
  if (!client || !record.clientInitialized || !holdsBrowser(record.status)) return { kind: 'skipped' };
  if (!client.isAlive()) return { kind: 'lost', reason: REASONS.BROWSER_GONE };
  if (record.status !== 'connected') return { kind: 'skipped' };
  try {
    const state = await withTimeout(client.getState(), timeoutMs, 'getState()');
    return state === 'CONNECTED' ? { kind: 'alive' } : { kind: 'lost', reason: stateReason(state) };
  } catch (error) {
    return { kind: 'lost', reason: error instanceof TimeoutError ? REASONS.PROBE_TIMEOUT : REASONS.PROBE_FAILED };
  }
}
