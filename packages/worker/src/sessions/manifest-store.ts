import fs from 'node:fs/promises';
import path from 'node:path';
import { resolvesInside } from '../browser/profile';
import { SessionFolderOutsideError } from '../errors';
import type { Logger } from '../log';
import { errorMessage, KeyedSerial } from '../util';
import { listSavedSessions, writeManifest, type SavedSession, type SessionManifest } from './manifest';
import type { SessionRecord } from './record';

/**
 * Writes each folder's `session.json` in order: a write starts after the earlier ones of the same
 * folder, so a late write can never undo a DELETE. Failures are logged, never thrown: the session
 * keeps running on a disk that refuses a write.
 *
 * Also the index of the sessions saved on disk: the folder is walked once (at start, by the
 * restore), then every manifest written and folder removed keeps it up to date, so a request for
 * an unknown id is answered from memory instead of walking every workspace's folder. A folder put
 * in by hand while the worker runs is seen at its next start.
 */
export class ManifestStore {
  private readonly chains = new KeyedSerial();
  /** Session id -> its saved folder; null until first read. */
  private index: Promise<Map<string, SavedSession>> | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => Date,
    private readonly sessionsDir: string,
  ) {}

  /** Every saved session (the folder walked once, then kept up to date), in a stable order. */
  async saved(): Promise<SavedSession[]> {
    return [...(await this.loaded()).values()];
  }

  /** The saved folder of `sessionId` in any workspace, from memory. */
  async findSaved(sessionId: string): Promise<SavedSession | null> {
    return (await this.loaded()).get(sessionId) ?? null;
  }

  /** Saves the record's manifest with the given desired state. */
  saveRecord(record: SessionRecord, desired: SessionManifest['desired']): Promise<void> {
    return this.save(record.folder, {
      workspace_id: record.workspaceId,
      session_id: record.sessionId,
      desired,
      phone_number: record.phone,
      updated_at: this.now().toISOString(),
    });
  }

  save(folder: string, manifest: SessionManifest): Promise<void> {
    return this.chains.run(folder, async () => {
      try {
        await writeManifest(folder, manifest);
      } catch (error) {
        this.logger.warn('Could not write the session manifest', { folder, error: errorMessage(error) });
        return;
      }
      this.update((index) => index.set(manifest.session_id, { workspaceId: manifest.workspace_id, sessionId: manifest.session_id, folder }));
    });
  }

  /**
   * Removes the whole session folder (manifest and saved auth) once earlier writes are done. A
   * folder reached through a symlink (its workspace folder or itself a link out of the sessions
   * folder) is refused with {@link SessionFolderOutsideError}: a recursive delete would empty the
   * link's target.
   */
  removeFolder(folder: string): Promise<void> {
    return this.chains.run(folder, async () => {
      if (!(await resolvesInside(this.sessionsDir, folder))) throw new SessionFolderOutsideError(folder);
      await fs.rm(folder, { recursive: true, force: true, maxRetries: 3 });
      this.update((index) => index.delete(path.basename(folder)));
    });
  }

  private loaded(): Promise<Map<string, SavedSession>> {
    this.index ??= listSavedSessions(this.sessionsDir).then((list) => new Map(list.map((saved) => [saved.sessionId, saved])));
    return this.index;
  }

  /**
   * Applies a change to the index once it is read (in the order changes were made). Before it is
   * first read there is nothing to change: the walk will see the disk as it is then.
   */
  private update(change: (index: Map<string, SavedSession>) => unknown): void {
    void this.index?.then(change);
  }
}
