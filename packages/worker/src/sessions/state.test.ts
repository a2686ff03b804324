import fs from 'node:fs';
import path from 'node:path';
import { SESSION_STATUSES, type SessionStatus } from '@wa-session-sync/shared';
import { TRANSITIONS, transition, type SessionEvent } from './state';

const EVENTS: readonly SessionEvent[] = ['qr', 'authenticated', 'ready', 'lost', 'dropped', 'exhausted', 'logout', 'stop', 'start'];

/**
 * The whole table, written out by hand: every (status, event) pair, `null` where the event is
 * ignored. It mirrors the "States" table of packages/worker/README.md, row for row and in the
 * same column order, so a change to the machine is a change to both.
 */
const EXPECTED: Record<SessionStatus, (SessionStatus | null)[]> = {
  //              qr             authenticated    ready        lost            dropped         exhausted  logout         stop            start
  initializing: ['qr_scanning', 'authenticated', 'connected', 'reconnecting', 'disconnected', 'failed', 'qr_scanning', 'disconnected', null],
  qr_scanning: ['qr_scanning', 'authenticated', 'connected', 'reconnecting', 'disconnected', 'failed', 'qr_scanning', 'disconnected', null],
  authenticated: ['qr_scanning', null, 'connected', 'reconnecting', 'disconnected', 'failed', 'qr_scanning', 'disconnected', null],
  connected: [null, null, null, 'reconnecting', 'disconnected', 'failed', 'qr_scanning', 'disconnected', null],
  reconnecting: ['qr_scanning', 'reconnecting', 'connected', 'reconnecting', 'disconnected', 'failed', 'qr_scanning', 'disconnected', null],
  disconnected: [null, null, null, null, null, null, null, 'disconnected', 'initializing'],
  failed: [null, null, null, null, null, null, null, 'disconnected', 'initializing'],
};

const cases = SESSION_STATUSES.flatMap((from) => EVENTS.map((event, i) => [from, event, EXPECTED[from][i]!] as const));

describe('session state machine', () => {
  it('uses only the contract vocabulary', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...SESSION_STATUSES].sort());
    for (const targets of Object.values(TRANSITIONS)) {
      for (const next of Object.values(targets)) expect(SESSION_STATUSES).toContain(next);
    }
  });

  it.each(cases)('%s --%s--> %s', (from, event, to) => {
    expect(transition(from, event)).toBe(to);
  });

  it('allows nothing the table above does not list', () => {
    const allowed = Object.values(TRANSITIONS).reduce((n, targets) => n + Object.keys(targets).length, 0);
    expect(allowed).toBe(cases.filter(([, , to]) => to !== null).length);
  });

  it('is the table the worker README shows', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const lines = readme.slice(readme.indexOf('\n## States\n')).split('\n').slice(2);
    const tableLines = lines.slice(0, lines.findIndex((line) => !line.startsWith('|')));
    const rows = tableLines.filter((line) => !line.startsWith('|---')).map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
    expect(rows[0]).toEqual(['from', ...EVENTS]);
    const table = Object.fromEntries(rows.slice(1).map(([from, ...targets]) => [from, targets.map((t) => t || null)]));
    expect(table).toEqual(EXPECTED);
  });
});
