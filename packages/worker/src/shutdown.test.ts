import Fastify from 'fastify';
import { silentLogger } from './log';
import { closeInOrder } from './shutdown';

describe('closeInOrder', () => {
  it("closes every resource through the app's onClose, in the order given, once the server stopped listening", async () => {
    const app = Fastify();
    const order: string[] = [];
    const step = (name: string) => ({
      name,
      close: async () => {
        order.push(`${name} (listening: ${app.server.listening})`);
        await Promise.resolve();
      },
    });
    closeInOrder(app, silentLogger(), [step('probe monitor'), step('sessions'), step('browsers left'), step('webhook dispatcher'), step('logger')]);
    await app.listen({ host: '127.0.0.1', port: 0 });
    expect(order).toEqual([]);
    await app.close();
    expect(order).toEqual([
      'probe monitor (listening: false)',
      'sessions (listening: false)',
      'browsers left (listening: false)',
      'webhook dispatcher (listening: false)',
      'logger (listening: false)',
    ]);
  });

  it('runs each step after the one before has finished, and the rest after one that fails', async () => {
    const app = Fastify();
    const order: string[] = [];
    closeInOrder(app, silentLogger(), [
      {
        name: 'slow',
        close: async () => {
          await new Promise((resolve) => setImmediate(resolve));
          order.push('slow done');
        },
      },
      {
        name: 'broken',
        close: () => {
          throw new Error('boom');
        },
      },
      { name: 'last', close: () => void order.push('last') },
    ]);
    await expect(app.close()).resolves.toBeUndefined();
    expect(order).toEqual(['slow done', 'last']);
  });
});
