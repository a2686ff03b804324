import { EventBus, type WorkerEvent } from './bus';
import { recordingLogger } from '../../test/recording-logger';


const at = new Date('2026-01-01T00:00:00.000Z');
const qr: WorkerEvent = { type: 'qr', at, session_id: 's1', workspace_id: 'w1', qr: '2@abc' };
const started: WorkerEvent = { type: 'worker', at, state: 'started' };

describe('EventBus', () => {
  it('hands every event to every listener, in publish order', () => {
    const bus = new EventBus();
    const a: WorkerEvent[] = [];
    const b: string[] = [];
    bus.subscribe((e) => a.push(e));
    bus.subscribe((e) => b.push(e.type));
    bus.publish(qr);
    bus.publish(started);
    expect(a).toEqual([qr, started]);
    expect(b).toEqual(['qr', 'worker']);
  });

  it('isolates a listener that throws: the publisher and the later listeners go on, the failure is logged', () => {
    const { logger, lines } = recordingLogger();
    const bus = new EventBus(logger);
    const after: WorkerEvent[] = [];
    bus.subscribe(() => {
      throw new Error('metrics broke');
    });
    bus.subscribe((e) => after.push(e));
    expect(() => bus.publish(qr)).not.toThrow();
    expect(after).toEqual([qr]);
    expect(lines).toEqual([expect.objectContaining({ level: 'error', message: 'Event listener failed', type: 'qr', error: 'metrics broke' })]);
  });

  it('stops calling a listener once unsubscribed, and unsubscribing twice is harmless', () => {
    const bus = new EventBus();
    const seen: WorkerEvent[] = [];
    const other: WorkerEvent[] = [];
    const unsubscribe = bus.subscribe((e) => seen.push(e));
    bus.subscribe((e) => other.push(e));
    bus.publish(qr);
    unsubscribe();
    unsubscribe();
    bus.publish(started);
    expect(seen).toEqual([qr]);
    expect(other).toEqual([qr, started]);
    expect(bus.size).toBe(1);
  });

  it('lets a listener unsubscribe while the event is being delivered without skipping the others', () => {
    const bus = new EventBus();
    const seen: string[] = [];
    const unsubscribe = bus.subscribe(() => {
      seen.push('first');
      unsubscribe();
    });
    bus.subscribe(() => seen.push('second'));
    bus.publish(qr);
    bus.publish(qr);
    expect(seen).toEqual(['first', 'second', 'second']);
  });

  it('keeps two subscriptions of the same function apart', () => {
    const bus = new EventBus();
    let calls = 0;
    const listener = () => calls++;
    const first = bus.subscribe(listener);
    bus.subscribe(listener);
    first();
    bus.publish(qr);
    expect(calls).toBe(1);
  });
});
