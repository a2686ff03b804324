import { Value } from '@sinclair/typebox/value';
import { REASONS } from './reasons';
import { WebhookEventSchema, type WebhookEvent } from './webhook';

const base = { id: '5f0c2b1e-8d3a-4c77-9e41-2a6b0d9f1c33', session_id: 's1', workspace_id: 'w1', timestamp: '2026-01-01T00:00:00.000Z' };

describe('WebhookEventSchema', () => {
  it.each<[string, WebhookEvent]>([
    ['a status change', { ...base, event: 'session.status', payload: { status: 'qr_scanning', previous: 'connected', reason: REASONS.LOGOUT } }],
    ['the first status', { ...base, event: 'session.status', payload: { status: 'initializing', previous: null, reason: null } }],
    ['a QR', { ...base, event: 'session.qr', payload: { qr: '2@abc,def' } }],
    [
      'a message',
      { ...base, event: 'message', payload: { id: 'm1', from: '6281@c.us', to: '6282@c.us', body: 'hi', type: 'chat', timestamp: 1763300356 } },
    ],
    ['an alert', { ...base, event: 'session.alert', payload: { kind: 'reconnect_exhausted', reason: REASONS.PROBE_TIMEOUT, attempts: 5 } }],
  ])('accepts %s', (_what, event) => {
    expect(Value.Check(WebhookEventSchema, event)).toBe(true);
  });

  it.each([
    ['an unknown event', { ...base, event: 'session.gone', payload: {} }],
    ['a status payload under the QR event', { ...base, event: 'session.qr', payload: { status: 'connected', previous: null, reason: null } }],
    ['a status outside the vocabulary', { ...base, event: 'session.status', payload: { status: 'online', previous: null, reason: null } }],
    ['a previous status outside the vocabulary', { ...base, event: 'session.status', payload: { status: 'failed', previous: 'up', reason: null } }],
    ['a status payload without its reason', { ...base, event: 'session.status', payload: { status: 'failed', previous: null } }],
    ['a message timestamp as text', { ...base, event: 'message', payload: { id: 'm', from: 'a', to: 'b', body: '', type: 'chat', timestamp: 'now' } }],
    ['a bad session id', { ...base, session_id: 'a/b', event: 'session.qr', payload: { qr: 'x' } }],
    ['no timestamp', { id: 'e1', session_id: 's1', workspace_id: 'w1', event: 'session.qr', payload: { qr: 'x' } }],
    ['an alert of an unknown kind', { ...base, event: 'session.alert', payload: { kind: 'on_fire', reason: 'x', attempts: 0 } }],
    ['an alert without its attempts', { ...base, event: 'session.alert', payload: { kind: 'qr_timeout', reason: 'QR_TIMEOUT' } }],
    ['no id', { session_id: 's1', workspace_id: 'w1', timestamp: base.timestamp, event: 'session.qr', payload: { qr: 'x' } }],
  ])('refuses %s', (_what, event) => {
    expect(Value.Check(WebhookEventSchema, event)).toBe(false);
  });
});
