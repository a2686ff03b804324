/**
 * Auth snapshots: WhatsApp Web's origin storage of a Chromium profile as one deterministic
 * tar+gzip, and its restore into a profile. The worker keeps whatsapp-web.js LocalAuth; these two
 * functions are all a store (Postgres) needs to move a login between machines.
 *
 * Reading order: `snapshotProfile` (copy the files while they hold still, pack, gzip, cap),
 * then `restoreProfile` (read and check the whole archive, build the new profile beside the old,
 * swap by rename).
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream, type Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { create as createTar, Parser, type ReadEntry } from 'tar';
import { entryPathProblem, ORIGIN_STORAGE, SKIPPED_FILES } from './origin-storage';

export { ORIGIN_STORAGE } from './origin-storage';

/** One snapshot: the tar+gzip bytes, their sha256 (hex), their size and how many files they hold. */
export interface Snapshot {
  data: Buffer;
  sha256: string;
  sizeBytes: number;
  files: number;
}

/**
 * Thrown by `snapshotProfile` when the compressed snapshot would exceed `maxBytes`. Nothing is
 * returned, never a truncated snapshot: the caller logs it and alerts. Packing stops as soon as
 * the cap is passed, so `sizeBytes` is how far it got (more than `maxBytes`), not the full size.
 */
export class SnapshotTooLargeError extends Error {
  readonly code = 'auth_snapshot_too_large';
  constructor(
    readonly sizeBytes: number,
    readonly maxBytes: number,
  ) {
    super(
      `The WhatsApp auth snapshot is over its cap (more than ${sizeBytes} bytes compressed, cap ${maxBytes}): ` +
        'it was not saved; raise the cap if this account really keeps that much, or log the account out and pair it again',
    );
    this.name = new.target.name;
  }
}

/** Thrown by `snapshotProfile` when the profile's files kept changing while they were copied (the page kept writing). */
export class SnapshotUnsettledError extends Error {
  readonly code = 'auth_snapshot_unsettled';
  constructor(attempts: number) {
    super(`The WhatsApp origin storage changed while it was being copied, ${attempts} times in a row: take the snapshot again later, once the page is idle`);
    this.name = new.target.name;
  }
}

/** Thrown by `restoreProfile` when the data is not a snapshot it may restore; the profile was not touched. */
export class SnapshotRejectedError extends Error {
  readonly code = 'auth_snapshot_rejected';
  constructor(reason: string) {
    super(`Refused to restore the WhatsApp auth snapshot: ${reason}. The profile was left as it was; pair the session again if no good snapshot exists`);
    this.name = new.target.name;
  }
}

/** Entries get this mtime, so the same files give the same bytes whenever they were written. */
const FIXED_MTIME = new Date(0);
/** Copies taken while the page keeps writing; each is short (a settled profile changes rarely). */
const COPY_ATTEMPTS = 5;
const COPY_RETRY_DELAY_MS = 200;

/**
 * Packs the WhatsApp origin storage of `profileDir` (`ORIGIN_STORAGE`) into a tar+gzip. Null when
 * the profile holds none of it (never paired). Deterministic: the same files give the same sha256
 * (sorted entries, a fixed mtime, normalised modes, no owner names, gzip without mtime). Skips
 * LevelDB's `LOCK` and `LOG` files, and never follows a symlink (links, sockets and devices are left out).
 *
 * Safe while Chromium runs: the files are first copied aside, and the copy is kept only if no file
 * changed between a listing before and one after it (LevelDB's files must be taken at one moment);
 * otherwise it copies again, and throws `SnapshotUnsettledError` after a few tries. Throws
 * `SnapshotTooLargeError` when the compressed size passes `maxBytes`.
 */
export async function snapshotProfile(profileDir: string, options: { maxBytes: number }): Promise<Snapshot | null> {
  const tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'wa-auth-snapshot-')); // 0700, ours alone
  try {
    const copied = await copySettled(profileDir, tempDir);
    if (copied === null) return null;
    return await pack(copied.dir, copied.listed, options.maxBytes);
  } finally {
    await fs.rm(tempDir, { recursive: true, force: true });
  }
}

/** A file or folder of the origin storage: its path relative to the profile, and what changes when it is written. */
interface Listed {
  relative: string;
  directory: boolean;
  /** size, mtime and inode of a file: a rewrite or an append changes one of them */
  signature: string;
}

/** Copies the origin storage into `tempDir/<attempt>` until a copy is taken while nothing changed; null when there is none. */
async function copySettled(profileDir: string, tempDir: string): Promise<{ dir: string; listed: Listed[] } | null> {
  for (let attempt = 1; attempt <= COPY_ATTEMPTS; attempt += 1) {
    const before = await listOriginStorage(profileDir);
    if (before.length === 0) return null;
    const dir = path.join(tempDir, String(attempt));
    await fs.mkdir(dir, { mode: 0o700 });
    const copied = await copyListed(profileDir, dir, before);
    const after = await listOriginStorage(profileDir);
    if (copied && sameListing(before, after)) return { dir, listed: before };
    await fs.rm(dir, { recursive: true, force: true });
    await new Promise((resolve) => setTimeout(resolve, COPY_RETRY_DELAY_MS));
  }
  throw new SnapshotUnsettledError(COPY_ATTEMPTS);
}

/** Every folder and regular file of the origin storage, sorted by path; symlinks are neither entered nor listed. */
async function listOriginStorage(profileDir: string): Promise<Listed[]> {
  const listed: Listed[] = [];
  const visit = async (relative: string): Promise<void> => {
    listed.push({ relative, directory: true, signature: '' });
    let children: Dirent[];
    try {
      children = await fs.readdir(path.join(profileDir, relative), { withFileTypes: true });
    } catch (error) {
      if (isNotFound(error)) return; // removed meanwhile: the listing after the copy differs, and it is taken again
      throw error;
    }
    for (const child of children) {
      const childRelative = `${relative}/${child.name}`;
      if (child.isDirectory()) await visit(childRelative);
      else if (child.isFile() && !SKIPPED_FILES.has(child.name)) {
        const stat = await fs.lstat(path.join(profileDir, childRelative), { bigint: true }).catch((error: unknown) => {
          if (isNotFound(error)) return null;
          throw error;
        });
        if (stat?.isFile()) listed.push({ relative: childRelative, directory: false, signature: `${stat.size}:${stat.mtimeNs}:${stat.ino}` });
      }
    }
  };
  for (const root of ORIGIN_STORAGE) {
    const stat = await fs.lstat(path.join(profileDir, root)).catch((error: unknown) => {
      if (isNotFound(error)) return null;
      throw error;
    });
    if (stat?.isDirectory()) await visit(root);
  }
  // Plain code-unit order: the same on every machine, whatever the locale.
  return listed.sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0));
}

function sameListing(a: Listed[], b: Listed[]): boolean {
  return a.length === b.length && a.every((entry, i) => entry.relative === b[i]!.relative && entry.signature === b[i]!.signature);
}

/** Copies the listed entries; false when one vanished or stopped being a regular file meanwhile. */
async function copyListed(profileDir: string, copyDir: string, listed: Listed[]): Promise<boolean> {
  for (const entry of listed) {
    const target = path.join(copyDir, entry.relative);
    if (entry.directory) {
      await fs.mkdir(target, { recursive: true, mode: 0o700 });
      continue;
    }
    // O_NOFOLLOW: a file swapped for a symlink since the listing is not read through it.
    const source = await fs.open(path.join(profileDir, entry.relative), constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
    if (source === null) return false;
    try {
      if (!(await source.stat()).isFile()) return false;
      await pipeline(createReadStream('', { fd: source, autoClose: false }), createWriteStream(target, { mode: 0o600, flags: 'wx' }));
    } finally {
      await source.close();
    }
  }
  return true;
}

async function pack(copyDir: string, listed: Listed[], maxBytes: number): Promise<Snapshot> {
  const tarStream = createTar(
    // portable: no owner, group, atime or ctime, and modes normalised (the copies are all 0600/0700 anyway)
    { cwd: copyDir, portable: true, mtime: FIXED_MTIME, noDirRecurse: true, strict: true },
    listed.map((entry) => entry.relative),
  );
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  // Node's gzip writes no mtime and no file name in its header: the bytes depend on the tar alone.
  try {
    await pipeline(tarStream, zlib.createGzip(), async (gzipped: AsyncIterable<Buffer>) => {
      for await (const chunk of gzipped) {
        sizeBytes += chunk.length;
        if (sizeBytes > maxBytes) break; // ends the pipeline: the rest is neither packed nor kept
        chunks.push(chunk);
      }
    });
  } catch (error) {
    // Leaving the loop early destroys the tar stream, which then rejects with an AbortError.
    if (sizeBytes <= maxBytes) throw error;
  }
  if (sizeBytes > maxBytes) throw new SnapshotTooLargeError(sizeBytes, maxBytes);
  const data = Buffer.concat(chunks);
  return { data, sha256: createHash('sha256').update(data).digest('hex'), sizeBytes, files: listed.filter((entry) => !entry.directory).length };
}

/** An archive entry that passed every check: a folder, or a file with its bytes. */
interface CheckedEntry {
  relative: string;
  data: Buffer | null;
}

/**
 * Replaces the WhatsApp origin storage of `profileDir` with the snapshot's, keeping the rest of
 * the profile. Chromium must not be running on it.
 *
 * The whole archive is read and checked before anything is written: an entry outside
 * `ORIGIN_STORAGE`, an absolute path, a `..`, a link, a device or a FIFO (anything but files and
 * folders) refuses the whole snapshot with `SnapshotRejectedError` and changes nothing. The new
 * profile is then built in a folder beside the old one (the old profile's other files hard-linked
 * into it, the snapshot's written, files 0600 and folders 0700) and swapped in by two renames, so a
 * crash leaves the old profile, the new one, or none (the worker then restores again), never a mix.
 * Creates `profileDir` (0700) if missing. Leftovers of an interrupted restore beside it are removed.
 *
 * The checked entries are written by hand rather than by `tar.x`: what reaches the disk is then
 * exactly what was checked, with the modes above, into a folder no one else writes.
 */
export async function restoreProfile(profileDir: string, data: Buffer): Promise<{ files: number }> {
  const entries = await readChecked(data);
  const parent = path.dirname(path.resolve(profileDir));
  const base = path.basename(path.resolve(profileDir));
  await fs.mkdir(parent, { recursive: true, mode: 0o700 });
  await removeLeftovers(parent, base);

  const existing = await fs.lstat(profileDir).catch((error: unknown) => {
    if (isNotFound(error)) return null;
    throw error;
  });
  if (existing && !existing.isDirectory()) {
    throw new SnapshotRejectedError(`${profileDir} is not a folder (a symlink or a file): remove it first`);
  }

  const staging = await fs.mkdtemp(path.join(parent, `.${base}.restore-`)); // 0700
  try {
    if (existing) await linkTree(profileDir, staging, '');
    let files = 0;
    for (const entry of entries) {
      const target = path.join(staging, entry.relative);
      if (entry.data === null) {
        await fs.mkdir(target, { recursive: true, mode: 0o700 });
      } else {
        await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
        await fs.writeFile(target, entry.data, { mode: 0o600, flag: 'wx' });
        files += 1;
      }
    }
    if (existing) {
      const old = path.join(parent, `.${base}.old-${randomBytes(6).toString('hex')}`);
      await fs.rename(profileDir, old);
      try {
        await fs.rename(staging, profileDir);
      } catch (error) {
        await fs.rename(old, profileDir); // put the old one back: a failed restore changes nothing
        throw error;
      }
      await fs.rm(old, { recursive: true, force: true });
    } else {
      await fs.rename(staging, profileDir);
    }
    return { files };
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    throw error;
  }
}

async function readChecked(data: Buffer): Promise<CheckedEntry[]> {
  let tarBytes: Buffer;
  try {
    tarBytes = await promisify(zlib.gunzip)(data);
  } catch (error) {
    throw new SnapshotRejectedError(`the data is not gzip (${(error as Error).message})`);
  }
  const entries: CheckedEntry[] = [];
  const problems: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const problem = entryProblem(entry);
        if (problem !== null) {
          problems.push(`${JSON.stringify(entry.path)}: ${problem}`);
          entry.resume();
          return;
        }
        const relative = entry.path.replace(/\/$/, '');
        if (entry.type === 'Directory') {
          entries.push({ relative, data: null });
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => entries.push({ relative, data: Buffer.concat(chunks) }));
      },
    });
    parser.on('error', (error: Error) => reject(new SnapshotRejectedError(`the archive is damaged (${error.message})`)));
    parser.on('end', () => resolve());
    parser.end(tarBytes);
  });
  if (problems.length > 0) throw new SnapshotRejectedError(`entries it may not write: ${problems.join('; ')}`);
  if (!entries.some((entry) => entry.data !== null)) throw new SnapshotRejectedError('the archive holds no file');
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.relative)) throw new SnapshotRejectedError(`${JSON.stringify(entry.relative)} appears twice`);
    seen.add(entry.relative);
  }
  return entries;
}

function entryProblem(entry: ReadEntry): string | null {
  if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'Directory') return `a ${entry.type} entry (only files and folders are restored)`;
  if (entry.linkpath) return 'an entry with a link target';
  return entryPathProblem(entry.path);
}

/** Rebuilds `from` (minus `ORIGIN_STORAGE`) in `to` with hard links: no data copied, and the old profile untouched. */
async function linkTree(from: string, to: string, relative: string): Promise<void> {
  for (const child of await fs.readdir(path.join(from, relative), { withFileTypes: true })) {
    const childRelative = relative === '' ? child.name : `${relative}/${child.name}`;
    if (ORIGIN_STORAGE.includes(childRelative)) continue;
    const source = path.join(from, childRelative);
    const target = path.join(to, childRelative);
    if (child.isDirectory()) {
      await fs.mkdir(target, { mode: 0o700 });
      await linkTree(from, to, childRelative);
    } else if (child.isFile()) {
      await fs.link(source, target).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EXDEV' && error.code !== 'EPERM') throw error;
        await fs.copyFile(source, target); // a profile folder that is itself a mount point
      });
    } else if (child.isSymbolicLink()) {
      await fs.symlink(await fs.readlink(source), target); // Chromium's Singleton* links, kept as they were
    }
    // sockets and FIFOs belong to a running Chromium, which must not be running: left out
  }
}

/** Removes `.<base>.restore-*` and `.<base>.old-*` beside the profile: what an interrupted restore leaves. */
async function removeLeftovers(parent: string, base: string): Promise<void> {
  const prefixes = [`.${base}.restore-`, `.${base}.old-`];
  for (const name of await fs.readdir(parent)) {
    if (prefixes.some((prefix) => name.startsWith(prefix))) await fs.rm(path.join(parent, name), { recursive: true, force: true });
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}
