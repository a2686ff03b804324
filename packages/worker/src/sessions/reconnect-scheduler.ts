import type { Logger } from '../log';
import type { SessionRecord } from './record';
import { nextReconnect, type ReconnectDecision, type ReconnectPolicy } from './reconnect-policy';

/**
 * Relaunches lost sessions after their backoff delay. One pending retry per record at most;
 * {@link cancel} drops it (the record was stopped, replaced or relaunched some other way).
 */
export class ReconnectScheduler {
  private readonly timers = new Map<SessionRecord, NodeJS.Timeout>();

  constructor(
    private readonly options: { policy: ReconnectPolicy; logger: Logger; random?: () => number },
  ) {}

  /** The decision for a record that was just lost, from its attempts since it was last connected. */
  decide(record: SessionRecord): ReconnectDecision {
    return nextReconnect(this.options.policy, record.reconnectAttempts, this.options.random);
  }

  /** Runs `relaunch` after `delayMs`, unless cancelled first. */
  schedule(record: SessionRecord, attempt: number, delayMs: number, relaunch: () => void): void {
    this.cancel(record);
    this.options.logger.info('Reconnect scheduled', { sessionId: record.sessionId, attempt, delayMs });
    this.timers.set(
      record,
      setTimeout(() => {
        this.timers.delete(record);
        relaunch();
      }, delayMs),
    );
  }

  cancel(record: SessionRecord): void {
    const timer = this.timers.get(record);
    if (timer) clearTimeout(timer);
    this.timers.delete(record);
  }
}
