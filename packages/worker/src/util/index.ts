// Small helpers the worker's modules share (graphile-worker's `lib.ts` is the model).
export { backoffDelay, type RetryDelays } from './backoff';
export { errorMessage } from './errors';
export { KeyedSerial } from './keyed-serial';
export { sleep, TimeoutError, withTimeout } from './timeout';
