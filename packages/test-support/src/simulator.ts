/**
 * The simulated WhatsApp Web, for suites that run the worker against it: they get it here, with
 * the rest of what they stand on, instead of each depending on the simulator package.
 */
import type * as SimulatorPackage from '@wa-session-sync/simulator';

export type { Simulator, SimulatorOptions } from '@wa-session-sync/simulator';

/** Starts a simulator. Loaded on first use: it takes ~100 ms to load and most suites never start one. */
export function startSimulator(options?: SimulatorPackage.SimulatorOptions): Promise<SimulatorPackage.Simulator> {
  const simulator = require('@wa-session-sync/simulator') as typeof SimulatorPackage;
  return simulator.startSimulator(options);
}
