import { ConfigError, isWaSyncError, WorkerUnavailableError } from './errors';

describe('isWaSyncError', () => {
  it('recognises an error made by another copy of the module, as the start bundle must the handlers\' errors', () => {
    let OtherCopy: typeof WorkerUnavailableError | undefined;
    jest.isolateModules(() => {
      OtherCopy = (require('./errors') as typeof import('./errors')).WorkerUnavailableError;
    });
    expect(OtherCopy).not.toBe(WorkerUnavailableError);
    const error = new OtherCopy!('the worker is not healthy');
    expect(error instanceof WorkerUnavailableError).toBe(false);
    expect(isWaSyncError(error)).toBe(true);
    expect(isWaSyncError(new ConfigError('bad --workspace'))).toBe(true);
  });

  it('does not take other errors, or objects that merely look alike, for one', () => {
    expect(isWaSyncError(new Error('boom'))).toBe(false);
    expect(isWaSyncError(Object.assign(new Error('boom'), { code: 'WORKER_UNAVAILABLE', exitCode: 1 }))).toBe(false);
    expect(isWaSyncError({ code: 'CONFIG_INVALID', exitCode: 2, message: 'x' })).toBe(false);
    expect(isWaSyncError(null)).toBe(false);
    expect(isWaSyncError('CONFIG_INVALID')).toBe(false);
  });
});
