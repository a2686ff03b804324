import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installCrashPolicy, isBrowserNoise } from './crash-policy';
import { createLogger } from './log';

function named(name: string, message = 'x'): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe('isBrowserNoise', () => {
  it.each([
    ['TargetCloseError', named('TargetCloseError')],
    ['ProtocolError', named('ProtocolError')],
    ['EPIPE on a dead pipe', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })],
    ['ECONNRESET', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['a closed target by message', new Error('Protocol error (Runtime.callFunctionOn): Target closed')],
    ['a destroyed context', new Error('Execution context was destroyed, most likely because of a navigation')],
  ])('takes %s for browser noise', (_label, error) => {
    expect(isBrowserNoise(error)).toBe(true);
  });

  it.each([
    ['a TypeError of ours', new TypeError("Cannot read properties of undefined (reading 'status')")],
    ['a plain Error', new Error('disk full')],
    ['null', null],
  ])('does not take %s for browser noise', (_label, error) => {
    expect(isBrowserNoise(error)).toBe(false);
  });
});

describe('installCrashPolicy', () => {
  let logDir: string;
  const logLines = () =>
    fs
      .readFileSync(path.join(logDir, 'whatsapp-service.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: string; message: string; error?: string });

  beforeEach(() => {
    logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-worker-crash-'));
  });

  afterEach(() => fs.rmSync(logDir, { recursive: true, force: true }));

  it('survives browser noise and unhandled rejections, logging each as a warning', async () => {
    const target = new EventEmitter();
    const exit = jest.fn();
    const logger = createLogger({ logDir, level: 'info' });
    installCrashPolicy(logger, target, exit);

    target.emit('uncaughtException', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    target.emit('unhandledRejection', named('TargetCloseError', 'Target closed'));
    logger.end();
    await new Promise((resolve) => logger.on('finish', resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(exit).not.toHaveBeenCalled();
    expect(logLines()).toEqual([
      expect.objectContaining({ level: 'warn', message: 'Uncaught browser error', error: 'write EPIPE' }),
      expect.objectContaining({ level: 'warn', message: 'Unhandled rejection', error: 'Target closed' }),
    ]);
  });

  it('logs any other uncaught exception, flushes the log, then exits 1', async () => {
    const target = new EventEmitter();
    const exited = new Promise<number>((resolve) => installCrashPolicy(createLogger({ logDir, level: 'info' }), target, resolve));

    target.emit('uncaughtException', new TypeError('bug of ours'));

    expect(await exited).toBe(1);
    expect(logLines()).toEqual([expect.objectContaining({ level: 'error', message: 'Uncaught exception, exiting', error: 'bug of ours' })]);
  });
});
