import path from 'node:path';

/**
 * What WhatsApp Web needs to log back in, relative to a Chromium profile (LocalAuth's
 * `<session folder>/session`): its origin's IndexedDB (Chromium keeps all of an origin's
 * databases in one LevelDB, with large values in the `.blob` folder beside it, which WhatsApp
 * may not have made) and the profile's localStorage LevelDB (one for every origin).
 *
 * The same names for real WhatsApp and the simulator: the simulator's page is served as
 * `https://web.whatsapp.com` (Chromium's host resolver maps the name to its port), so a profile
 * paired against it holds `https_web.whatsapp.com_0.indexeddb.leveldb` too. Checked on a real
 * profile from the bundled headless shell (Chromium 153) after pairing: those two folders, no
 * `.blob` (the simulator stores no large values), and nothing of the origin under `WebStorage/`
 * (only Chromium's `QuotaManager` database, which Chromium rebuilds from the folders).
 */
export const ORIGIN_STORAGE: readonly string[] = Object.freeze([
  'Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb',
  'Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob',
  'Default/Local Storage/leveldb',
]);

/**
 * Files of a LevelDB folder that are not data: `LOCK` (held by the running Chromium; LevelDB makes
 * a new one) and `LOG`/`LOG.old` (LevelDB's diagnostic log, rewritten with timestamps at every open,
 * so keeping it would change the snapshot's hash on every restart without a change of data).
 */
export const SKIPPED_FILES: ReadonlySet<string> = new Set(['LOCK', 'LOG', 'LOG.old']);

/**
 * Why an archive entry's path may not be restored, or null when it may: it must be relative,
 * in POSIX form without `.`, `..` or empty segments, and be one of `ORIGIN_STORAGE` or inside one.
 * A trailing `/` (how tar writes folders) is allowed.
 */
export function entryPathProblem(entryPath: string, allowed: readonly string[] = ORIGIN_STORAGE): string | null {
  if (entryPath === '') return 'an empty path';
  if (entryPath.startsWith('/') || /^[A-Za-z]:/.test(entryPath)) return 'an absolute path';
  if (entryPath.includes('\\')) return 'a backslash in the path';
  if (entryPath.includes('\0')) return 'a NUL byte in the path';
  const trimmed = entryPath.endsWith('/') ? entryPath.slice(0, -1) : entryPath;
  const segments = trimmed.split('/');
  if (segments.includes('..')) return 'a `..` segment';
  if (segments.some((segment) => segment === '' || segment === '.')) return 'an empty or `.` segment';
  if (path.posix.normalize(trimmed) !== trimmed) return 'a path that is not in normal form';
  const inside = allowed.some((root) => trimmed === root || trimmed.startsWith(`${root}/`));
  return inside ? null : 'a path outside the WhatsApp origin storage';
}
