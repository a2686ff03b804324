import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';
import { restoreProfile, snapshotProfile, SnapshotRejectedError, SnapshotTooLargeError, SnapshotUnsettledError } from './snapshot';

const IDB = 'Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb';
const LOCAL = 'Default/Local Storage/leveldb';

let root: string;
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'wa-snapshot-test-'));
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** Writes `files` (path relative to the profile -> content) into a new profile folder `name`. */
async function profile(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = path.join(root, name, 'session');
  for (const [relative, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, relative)), { recursive: true });
    await fs.writeFile(path.join(dir, relative), content);
  }
  return dir;
}

const PAIRED = {
  [`${IDB}/CURRENT`]: 'MANIFEST-000001\n',
  [`${IDB}/MANIFEST-000001`]: 'manifest',
  [`${IDB}/000003.log`]: 'the pairing',
  [`${LOCAL}/CURRENT`]: 'MANIFEST-000001\n',
  [`${LOCAL}/000003.log`]: 'local storage',
};

/** path -> type (and content for files) of every file and folder under `dir`, symlinks as their target. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (relative: string): Promise<void> => {
    for (const child of await fs.readdir(path.join(dir, relative), { withFileTypes: true })) {
      const childRelative = relative ? `${relative}/${child.name}` : child.name;
      const full = path.join(dir, childRelative);
      if (child.isDirectory()) {
        out[childRelative] = 'dir';
        await visit(childRelative);
      } else if (child.isSymbolicLink()) out[childRelative] = `-> ${await fs.readlink(full)}`;
      else out[childRelative] = await fs.readFile(full, 'utf8');
    }
  };
  await visit('');
  return out;
}

/** The archive's entries as `type path`. */
async function entriesOf(data: Buffer): Promise<string[]> {
  const entries: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({ onReadEntry: (entry: ReadEntry) => (entries.push(`${entry.type} ${entry.path}`), entry.resume()) });
    parser.on('end', resolve).on('error', reject);
    parser.end(zlib.gunzipSync(data));
  });
  return entries;
}

/** A tar+gzip written header by header, as a hostile or broken store could hold it. */
function craftedArchive(entries: { path: string; type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO'; body?: string; linkpath?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? '');
    const header = new Header({
      path: entry.path,
      type: entry.type ?? 'File',
      size: entry.type === undefined || entry.type === 'File' ? body.length : 0,
      mode: 0o644,
      mtime: new Date(0),
      linkpath: entry.linkpath,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (body.length > 0 && (entry.type ?? 'File') === 'File') blocks.push(Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]));
  }
  blocks.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(blocks));
}

describe('snapshotProfile', () => {
  it('gives null for a profile without the WhatsApp origin storage (never paired)', async () => {
    const dir = await profile('unpaired', { 'Default/Cookies': 'c', 'Default/IndexedDB/https_other.example_0.indexeddb.leveldb/CURRENT': 'x' });
    expect(await snapshotProfile(dir, { maxBytes: 1_000_000 })).toBeNull();
    expect(await snapshotProfile(path.join(root, 'missing'), { maxBytes: 1_000_000 })).toBeNull();
  });

  it('gives the same sha256 for the same files written at other times, and another for one byte changed', async () => {
    const first = await profile('a', PAIRED);
    const second = await profile('b', PAIRED);
    for (const relative of Object.keys(PAIRED)) await fs.utimes(path.join(second, relative), new Date('2031-01-01'), new Date('2031-01-01'));
    await fs.chmod(path.join(second, `${IDB}/CURRENT`), 0o644);

    const a = await snapshotProfile(first, { maxBytes: 1_000_000 });
    const b = await snapshotProfile(second, { maxBytes: 1_000_000 });
    expect(a).not.toBeNull();
    expect(b!.sha256).toBe(a!.sha256);
    expect(b!.data.equals(a!.data)).toBe(true);
    expect(a).toMatchObject({ files: 5, sizeBytes: a!.data.length, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });

    await fs.writeFile(path.join(second, `${IDB}/000003.log`), 'the pairinG');
    expect((await snapshotProfile(second, { maxBytes: 1_000_000 }))!.sha256).not.toBe(a!.sha256);
  });

  it('holds the origin storage only, without LevelDB LOCK and LOG files, links or anything else of the profile', async () => {
    const outside = path.join(root, 'secret.txt');
    await fs.writeFile(outside, 'not in the profile');
    const dir = await profile('p', {
      ...PAIRED,
      [`${IDB}/LOCK`]: '',
      [`${IDB}/LOG`]: '2026/01/01-00:00:00.000 1 Recovering log #3',
      [`${LOCAL}/LOG.old`]: 'old log',
      'Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob/1/00/3': 'a blob',
      'Default/Cookies': 'cookies',
      'Default/Session Storage/CURRENT': 'session storage',
    });
    await fs.symlink(outside, path.join(dir, LOCAL, 'linked.log'));

    const snapshot = await snapshotProfile(dir, { maxBytes: 1_000_000 });
    expect(await entriesOf(snapshot!.data)).toEqual([
      'Directory Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob/',
      'Directory Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob/1/',
      'Directory Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob/1/00/',
      'File Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob/1/00/3',
      `Directory ${IDB}/`,
      `File ${IDB}/000003.log`,
      `File ${IDB}/CURRENT`,
      `File ${IDB}/MANIFEST-000001`,
      `Directory ${LOCAL}/`,
      `File ${LOCAL}/000003.log`,
      `File ${LOCAL}/CURRENT`,
    ]);
    expect(snapshot!.files).toBe(6);
  });

  it('refuses a snapshot over the cap, on its compressed size', async () => {
    const dir = await profile('big', { ...PAIRED, [`${IDB}/000005.ldb`]: randomBytes(64 * 1024) });
    const error = await snapshotProfile(dir, { maxBytes: 16 * 1024 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotTooLargeError);
    expect(error).toMatchObject({ code: 'auth_snapshot_too_large', maxBytes: 16 * 1024, sizeBytes: expect.any(Number) });
    expect((error as SnapshotTooLargeError).sizeBytes).toBeGreaterThan(16 * 1024);

    // compressible data of the same size passes: the cap is on what is stored
    const small = await profile('compressible', { ...PAIRED, [`${IDB}/000005.ldb`]: Buffer.alloc(64 * 1024, 'a') });
    expect((await snapshotProfile(small, { maxBytes: 16 * 1024 }))!.sizeBytes).toBeLessThan(16 * 1024);
  });
  it('never keeps a copy taken while a file changed: a page that never stops writing gets SnapshotUnsettledError', async () => {
    const dir = await profile('busy', PAIRED);
    let writing = true;
    const writer = (async () => {
      while (writing) await fs.appendFile(path.join(dir, `${IDB}/000003.log`), 'x');
    })();
    try {
      await expect(snapshotProfile(dir, { maxBytes: 1_000_000 })).rejects.toBeInstanceOf(SnapshotUnsettledError);
    } finally {
      writing = false;
      await writer;
    }
    // once it stops, the snapshot holds what was written last
    const settled = await snapshotProfile(dir, { maxBytes: 1_000_000 });
    const restored = path.join(root, 'restored', 'session');
    await restoreProfile(restored, settled!.data);
    expect(await fs.readFile(path.join(restored, `${IDB}/000003.log`), 'utf8')).toBe(await fs.readFile(path.join(dir, `${IDB}/000003.log`), 'utf8'));
  });
});

describe('restoreProfile', () => {
  it('replaces the origin storage whole (a stale file of the old LevelDB is gone) and keeps the rest of the profile', async () => {
    const snapshot = (await snapshotProfile(await profile('source', PAIRED), { maxBytes: 1_000_000 }))!;
    const target = await profile('target', {
      [`${IDB}/CURRENT`]: 'MANIFEST-000009\n',
      [`${IDB}/000042.ldb`]: 'stale table',
      [`${LOCAL}/000099.log`]: 'stale log',
      'Default/Cookies': 'cookies',
    });

    expect(await restoreProfile(target, snapshot.data)).toEqual({ files: 5 });
    expect(await tree(target)).toEqual({
      Default: 'dir',
      'Default/Cookies': 'cookies',
      'Default/IndexedDB': 'dir',
      [IDB]: 'dir',
      [`${IDB}/CURRENT`]: 'MANIFEST-000001\n',
      [`${IDB}/MANIFEST-000001`]: 'manifest',
      [`${IDB}/000003.log`]: 'the pairing',
      'Default/Local Storage': 'dir',
      [LOCAL]: 'dir',
      [`${LOCAL}/CURRENT`]: 'MANIFEST-000001\n',
      [`${LOCAL}/000003.log`]: 'local storage',
    });
    expect((await fs.stat(path.join(target, `${IDB}/000003.log`))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(path.join(target, IDB))).mode & 0o777).toBe(0o700);
    expect((await fs.stat(target)).mode & 0o777).toBe(0o700);
    expect(await fs.readdir(path.dirname(target))).toEqual(['session']); // no staging or old copy left beside it
    // and it snapshots back to the same bytes
    expect((await snapshotProfile(target, { maxBytes: 1_000_000 }))!.sha256).toBe(snapshot.sha256);
  });

  it('creates a missing profile folder (0700), and removes what an interrupted restore left beside it', async () => {
    const snapshot = (await snapshotProfile(await profile('source', PAIRED), { maxBytes: 1_000_000 }))!;
    const target = path.join(root, 'fresh', 'sessions', 's1', 'session');
    await fs.mkdir(path.join(path.dirname(target), '.session.restore-abc123', 'Default'), { recursive: true });
    await fs.mkdir(path.join(path.dirname(target), '.session.old-abc123'), { recursive: true });

    expect(await restoreProfile(target, snapshot.data)).toEqual({ files: 5 });
    expect((await fs.stat(target)).mode & 0o777).toBe(0o700);
    expect(await fs.readdir(path.dirname(target))).toEqual(['session']);
    expect((await tree(target))[`${IDB}/000003.log`]).toBe('the pairing');
  });

  it.each([
    ['a `..` path', 'a `..` segment', [{ path: `${LOCAL}/CURRENT`, body: 'ok' }, { path: '../x', body: 'escaped' }]],
    ['a `..` inside an allowed folder', 'a `..` segment', [{ path: `${LOCAL}/../../../x`, body: 'escaped' }]],
    ['an absolute path', 'an absolute path', [{ path: `${LOCAL}/CURRENT`, body: 'ok' }, { path: '/tmp/wa-snapshot-test-absolute', body: 'escaped' }]],
    ['a symlink', 'a SymbolicLink entry', [{ path: `${LOCAL}/CURRENT`, body: 'ok' }, { path: `${LOCAL}/000003.log`, type: 'SymbolicLink', linkpath: '/etc/passwd' }]],
    ['a hard link', 'a Link entry', [{ path: `${LOCAL}/CURRENT`, body: 'ok' }, { path: `${LOCAL}/000003.log`, type: 'Link', linkpath: 'Default/Cookies' }]],
    ['a device', 'a CharacterDevice entry', [{ path: `${LOCAL}/null`, type: 'CharacterDevice' }]],
    ['a FIFO', 'a FIFO entry', [{ path: `${LOCAL}/fifo`, type: 'FIFO' }]],
    ['an entry outside the origin storage', 'outside the WhatsApp origin storage', [{ path: `${LOCAL}/CURRENT`, body: 'ok' }, { path: 'Default/Preferences', body: '{"evil":1}' }]],
    ['an archive without a file', 'holds no file', [{ path: `${LOCAL}/`, type: 'Directory' }]],
  ] as const)('refuses an archive with %s and changes nothing', async (_what, reason, entries) => {
    const target = await profile('target', { ...PAIRED, 'Default/Cookies': 'cookies' });
    const before = await tree(path.join(root, 'target'));

    const error = await restoreProfile(target, craftedArchive([...entries])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotRejectedError);
    expect(error).toMatchObject({ code: 'auth_snapshot_rejected', message: expect.stringContaining(reason) });
    expect(await tree(path.join(root, 'target'))).toEqual(before);
    expect(await fs.readdir(root)).toEqual(['target']);
    await expect(fs.lstat('/tmp/wa-snapshot-test-absolute')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses data that is not a gzip or not a tar, and changes nothing', async () => {
    const target = await profile('target', PAIRED);
    const before = await tree(target);
    await expect(restoreProfile(target, Buffer.from('not a snapshot'))).rejects.toBeInstanceOf(SnapshotRejectedError);
    await expect(restoreProfile(target, zlib.gzipSync(randomBytes(2048)))).rejects.toBeInstanceOf(SnapshotRejectedError);
    expect(await tree(target)).toEqual(before);
  });
});
