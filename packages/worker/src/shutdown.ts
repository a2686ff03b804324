import type { FastifyInstance } from 'fastify';
import type { Logger } from './log';
import { errorMessage } from './util';

/** One resource the worker closes as it stops. */
export interface ClosingStep {
  /** For the log line when it fails. */
  name: string;
  close(): Promise<void> | void;
}

/**
 * Closes the worker's resources through Fastify's `onClose`, in the order given, once the HTTP
 * server has stopped taking requests (`app.close()` closes the server first, then runs the
 * hooks). One hook runs them all one after another: Fastify runs separate `onClose` hooks last
 * added first, an order that would be easy to break by adding one. A step that throws is logged
 * and the next one still runs. Not close-with-grace: it would own the signals and the exit,
 * where the worker keeps its own hard stop and exit code, and it adds nothing to this ordering.
 */
export function closeInOrder(app: FastifyInstance, logger: Logger, steps: readonly ClosingStep[]): void {
  app.addHook('onClose', async () => {
    for (const step of steps) {
      try {
        await step.close();
      } catch (error) {
        logger.warn('Shutdown step failed', { step: step.name, error: errorMessage(error) });
      }
    }
  });
}
