import fs from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../test/helpers';
import { closeLogger, createLogger } from './log';

describe('logger', () => {
  it('drops lines logged after it was closed instead of throwing "write after end"', async () => {
    const dir = await tempDir('logger');
    const logger = createLogger({ logDir: dir, level: 'info' });
    logger.info('before close');
    const closed = closeLogger(logger);
    expect(() => logger.info('while closing')).not.toThrow();
    await closed;
    expect(() => logger.error('after close', { detail: 1 })).not.toThrow();
    const lines = (await fs.readFile(path.join(dir, 'whatsapp-service.log'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line).message)).toEqual(['before close']);
  });
});
