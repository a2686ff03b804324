import fs from 'node:fs/promises';
import path from 'node:path';
import { browserForTests, startSimulator, type Simulator } from '@wa-session-sync/test-support';
import { restoreProfile, snapshotProfile } from '../src/auth/snapshot';
import { markerArg } from '../src/browser/launch';
import { sandboxOnThisMachine } from '../src/browser/sandbox';
import type { SessionClient } from '../src/sessions/driver';
import { WwebjsDriver } from '../src/sessions/wwebjs-driver';
import { processesMentioning, tempDir, waitFor } from './helpers';

// A login moved by snapshot alone: real whatsapp-web.js (the worker's own driver, LocalAuth) in real
// Chromium against the simulator. Paired on one folder, snapshotted, the folder deleted, restored into
// another, started there: it must connect without a QR, and the simulator must see no double login.
jest.setTimeout(120_000);

const MAX_BYTES = 10 * 1024 * 1024;

let sim: Simulator;
let dir: string;
let driver: WwebjsDriver;
const running: SessionClient[] = [];

beforeAll(async () => {
  sim = await startSimulator({ quiet: true });
  dir = await tempDir('auth-snapshot');
  const browserArgs = sim.chromiumArgs();
  driver = new WwebjsDriver({
    browser: await browserForTests(),
    marker: markerArg(dir, 'auth-snapshot-test'),
    previousMarker: null,
    browserArgs,
    sandbox: sandboxOnThisMachine(browserArgs).enabled,
    webVersionCache: { type: 'none' },
  });
});

afterEach(async () => {
  for (const client of running.splice(0)) await stop(client);
  expect(sim.doubleLogins()).toEqual([]);
});

afterAll(async () => {
  await sim?.stop();
  // Chromium's helpers exit just after the browser process: wait for them, then insist they are gone.
  await waitFor(() => processesMentioning(dir).length === 0, 'the Chromium helpers to exit', { timeoutMs: 5_000, intervalMs: 100 }).catch(() => undefined);
  const leftovers = processesMentioning(dir);
  await fs.rm(dir, { recursive: true, force: true });
  expect(leftovers).toEqual([]);
});

interface Started {
  client: SessionClient;
  /** every QR the client showed */
  qrs: string[];
  firstQr: Promise<string>;
  /** the paired phone, once ready */
  ready: Promise<string | null>;
}

/** Starts the worker's client on a session folder (profile: `<folder>/session`). */
async function start(folder: string): Promise<Started> {
  const qrs: string[] = [];
  let onQr!: (qr: string) => void;
  let onReady!: (phone: string | null) => void;
  let onFailure!: (error: Error) => void;
  const firstQr = new Promise<string>((resolve) => (onQr = resolve));
  const ready = new Promise<string | null>((resolve, reject) => {
    onReady = resolve;
    onFailure = reject;
  });
  const ignore = () => undefined;
  const client = driver.create(
    { workspaceId: 'w1', sessionId: path.basename(folder), folder },
    {
      qr: (qr) => (qrs.push(qr), onQr(qr)),
      code: ignore,
      authenticated: ignore,
      ready: (phone) => onReady(phone),
      disconnected: (reason) => onFailure(new Error(`disconnected: ${reason}`)),
      authFailure: (message) => onFailure(new Error(`auth failure: ${message}`)),
      message: ignore,
      browserGone: (reason) => onFailure(new Error(`browser gone: ${reason}`)),
    },
  );
  running.push(client);
  ready.catch(() => undefined); // awaited by the test; a late failure after it must not be unhandled
  await client.initialize();
  return { client, qrs, firstQr, ready };
}

async function stop(client: SessionClient): Promise<void> {
  const index = running.indexOf(client);
  if (index >= 0) running.splice(index, 1);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([client.destroy().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
  clearTimeout(timer);
  await client.kill(); // whatever destroy() left
}

/** A new session paired by QR scan as `phone`, ready. */
async function paired(folder: string, phone: string): Promise<Started> {
  const started = await start(folder);
  sim.scan(await started.firstQr, phone);
  expect(await started.ready).toBe(phone);
  return started;
}

/** Restores `data` into a fresh session folder and starts a client on it: it must become ready as `phone` without showing a QR. */
async function expectRestoredWithoutQr(data: Buffer, folder: string, phone: string): Promise<void> {
  await expect(fs.stat(folder)).rejects.toMatchObject({ code: 'ENOENT' });
  const restored = await restoreProfile(path.join(folder, 'session'), data);
  expect(restored.files).toBeGreaterThan(0);
  const started = await start(folder);
  expect(await started.ready).toBe(phone);
  expect(started.qrs).toEqual([]);
  expect(await sim.waitForPage({ phone, state: 'CONNECTED' })).toMatchObject({ qr: null });
  await stop(started.client);
}

describe('an auth snapshot of a real profile', () => {
  it('taken after the client was destroyed, restores into a fresh folder (the old one deleted) that connects without a QR', async () => {
    const phone = '6281300000001';
    const folder = path.join(dir, 'machine-a', 'w1', 's1');
    const first = await paired(folder, phone);
    await stop(first.client);

    const snapshot = await snapshotProfile(path.join(folder, 'session'), { maxBytes: MAX_BYTES });
    expect(snapshot).not.toBeNull();
    expect(snapshot!.sizeBytes).toBe(snapshot!.data.length);
    await fs.rm(path.join(dir, 'machine-a'), { recursive: true });

    await expectRestoredWithoutQr(snapshot!.data, path.join(dir, 'machine-b', 'w1', 's1'), phone);
  });

  it('taken while the client runs (seconds after ready), restores without a QR once that client is gone', async () => {
    const phone = '6281300000002';
    const folder = path.join(dir, 'machine-c', 'w1', 's2');
    const first = await paired(folder, phone);
    // How the worker will use it: a few seconds after ready, once the page has written its storage
    // (the simulator's notes: localStorage younger than ~3 s may not have reached the disk).
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const snapshot = await snapshotProfile(path.join(folder, 'session'), { maxBytes: MAX_BYTES });
    expect(snapshot).not.toBeNull();
    // Never two at once: the running client goes before the copy starts (a lease's job in the worker).
    await stop(first.client);
    await fs.rm(path.join(dir, 'machine-c'), { recursive: true });

    await expectRestoredWithoutQr(snapshot!.data, path.join(dir, 'machine-d', 'w1', 's2'), phone);
  });

  it('of a profile that showed a QR and never paired, restores to a QR again, not a login', async () => {
    const folder = path.join(dir, 'machine-e', 'w1', 's3');
    const started = await start(folder);
    await started.firstQr;
    await stop(started.client);
    // Not null: the page opened its IndexedDB to learn it was unpaired, which made the origin's
    // LevelDB. The worker snapshots only after ready; what such a snapshot holds is no login.
    const snapshot = await snapshotProfile(path.join(folder, 'session'), { maxBytes: MAX_BYTES });
    expect(snapshot).not.toBeNull();

    const fresh = path.join(dir, 'machine-f', 'w1', 's3');
    await restoreProfile(path.join(fresh, 'session'), snapshot!.data);
    const again = await start(fresh);
    expect((await again.firstQr).split(',')).toHaveLength(5);
    await stop(again.client);
  });
});
