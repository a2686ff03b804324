export { startSimulator, Simulator, type SimulatorOptions } from './server';
export { SimulatorError, type SimulatorErrorCode } from './errors';
export {
  SETTABLE_STATES,
  type SettableState,
  type SimulatedPage,
  type PageMatch,
  type OutboundMessage,
  type DoubleLogin,
  type SimulatorEvent,
} from './simulator';
