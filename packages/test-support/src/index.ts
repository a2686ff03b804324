/** One copy of what the suites, the demo and the benchmarks stand on. */
export { sleep, StopWaiting, waitFor, type WaitOptions } from './wait';
export { freePort, readBody, startLocalServer, type LocalServer } from './http';
export { tempDir } from './temp-dir';
export { cleanEnv, spawnProcess, unprivilegedUser, type ProcessResult, type ProcessUser, type RunningProcess, type SpawnOptions } from './processes';
export {
  simulatedWorkerEnv,
  startWorker,
  WORKER_BIN,
  type ApiAnswer,
  type SimulatedWorkerOptions,
  type WorkerOptions,
  type WorkerProcess,
} from './worker-process';
export { CLI_BIN, runCli, startCli, type CliOptions, type CliResult } from './cli-process';
export {
  expectedSignature,
  expectedTimestampedSignature,
  startWebhookReceiver,
  type ReceivedWebhook,
  type WebhookReceiver,
  type WebhookReceiverOptions,
} from './webhook-receiver';
export { createTestDatabase, DEFAULT_PG_ADMIN_URL, type TestDatabase, type TestDatabaseOptions } from './database';
export {
  browserProcesses,
  browserTrees,
  cpuSeconds,
  isBrowserOn,
  killProcessesMentioning,
  privateBytes,
  privateMemory,
  processesMentioning,
  processesWhere,
} from './proc-scan';
export { startTcpProxy, type TcpProxy } from './tcp-proxy';
export { startSimulator, type Simulator, type SimulatorOptions } from './simulator';
export { browserForTests, browsersUnderTest, pathWithoutBrowsers, type BrowserChoice, type BrowserUnderTest } from './browsers';
