import type { Logger } from '../log';
import type { SessionManager } from './manager';
import { errorMessage } from '../util';

/**
 * Probes every session every `intervalSec` seconds (`WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL`).
 * Rounds never overlap: the next one is scheduled when the previous has finished.
 */
export class HealthMonitor {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly manager: SessionManager,
    private readonly intervalSec: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.manager
        .probeAll()
        .catch((error: unknown) => {
          this.logger.warn('Health check round failed', { error: errorMessage(error) });
        })
        .finally(() => {
          this.running = null;
          this.schedule();
        });
    }, this.intervalSec * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
