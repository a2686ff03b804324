export { loadConfig, parseBrowserArgs, type WorkerConfig } from './config';
export * from './errors';
export { createLogger, silentLogger, type Logger } from './log';
