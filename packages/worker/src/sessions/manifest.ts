import fs from 'node:fs/promises';
import path from 'node:path';
import { isValidId } from '@wa-session-sync/shared';

/**
 * What the worker remembers about a session across restarts, in `<folder>/session.json` beside
 * the LocalAuth profile (which whatsapp-web.js deletes on a logout; this file stays).
 */
export interface SessionManifest {
  workspace_id: string;
  session_id: string;
  /** What a person asked for: restore brings back only `running` sessions. */
  desired: 'running' | 'stopped';
  phone_number: string | null;
  updated_at: string;
}

export const MANIFEST_FILE = 'session.json';

export async function writeManifest(folder: string, manifest: SessionManifest): Promise<void> {
  await fs.mkdir(folder, { recursive: true });
  const file = path.join(folder, MANIFEST_FILE);
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await fs.writeFile(temp, JSON.stringify(manifest, null, 2) + '\n');
  await fs.rename(temp, file);
}

/** Thrown (and reported by restore) when a manifest cannot be read or makes no sense. */
export class BrokenManifestError extends Error {
  readonly code = 'broken_manifest';
}

export async function readManifest(folder: string): Promise<SessionManifest> {
  let raw: string;
  try {
    raw = await fs.readFile(path.join(folder, MANIFEST_FILE), 'utf8');
  } catch (error) {
    throw new BrokenManifestError(`cannot read ${MANIFEST_FILE}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let data: Partial<SessionManifest>;
  try {
    data = JSON.parse(raw) as Partial<SessionManifest>;
  } catch {
    throw new BrokenManifestError(`${MANIFEST_FILE} is not valid JSON`);
  }
  const workspaceId = path.basename(path.dirname(folder));
  const sessionId = path.basename(folder);
  if (data.workspace_id !== workspaceId || data.session_id !== sessionId || !isValidId(workspaceId) || !isValidId(sessionId)) {
    throw new BrokenManifestError(`${MANIFEST_FILE} does not name its own folder`);
  }
  return {
    workspace_id: workspaceId,
    session_id: sessionId,
    desired: data.desired === 'stopped' ? 'stopped' : 'running',
    phone_number: typeof data.phone_number === 'string' ? data.phone_number : null,
    updated_at: typeof data.updated_at === 'string' ? data.updated_at : new Date(0).toISOString(),
  };
}

/** A session folder found on disk: `<sessionsDir>/<workspace>/<session>/` holding a manifest (or a profile). */
export interface SavedSession {
  workspaceId: string;
  sessionId: string;
  folder: string;
}

/** Every `<workspace>/<session>` folder with valid ids under `sessionsDir` that holds a manifest or a profile. */
export async function listSavedSessions(sessionsDir: string): Promise<SavedSession[]> {
  let workspaces: string[];
  try {
    workspaces = await fs.readdir(sessionsDir);
  } catch {
    return [];
  }
  // Folders are read in parallel (a restore starts with this), the result in a stable order.
  const perWorkspace = await Promise.all(
    workspaces
      .filter(isValidId)
      .sort()
      .map(async (workspaceId) => {
        const sessions = await fs.readdir(path.join(sessionsDir, workspaceId)).catch(() => [] as string[]);
        const saved = await Promise.all(
          sessions
            .filter(isValidId)
            .sort()
            .map(async (sessionId): Promise<SavedSession | null> => {
              const folder = path.join(sessionsDir, workspaceId, sessionId);
              const entries = await fs.readdir(folder).catch(() => [] as string[]);
              return entries.includes(MANIFEST_FILE) || entries.includes('session') ? { workspaceId, sessionId, folder } : null;
            }),
        );
        return saved.filter((entry): entry is SavedSession => entry !== null);
      }),
  );
  return perWorkspace.flat();
}
