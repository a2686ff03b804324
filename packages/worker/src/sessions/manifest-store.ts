import fs from 'node:fs/promises';
import type { Logger } from '../log';
import { errorMessage, KeyedSerial } from '../util';
import { writeManifest, type SessionManifest } from './manifest';
import type { SessionRecord } from './record';

/**
 * Writes each folder's `session.json` in order: a write starts after the earlier ones of the same
 * folder, so a late write can never undo a DELETE. Failures are logged, never thrown: the session
 * keeps running on a disk that refuses a write.
 */
export class ManifestStore {
  private readonly chains = new KeyedSerial();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {}

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
    return this.chains.run(folder, () =>
      writeManifest(folder, manifest).catch((error: unknown) => {
        this.logger.warn('Could not write the session manifest', { folder, error: errorMessage(error) });
      }),
    );
  }

  /** Removes the whole session folder (manifest and saved auth) once earlier writes are done. */
  removeFolder(folder: string): Promise<void> {
    return this.chains.run(folder, () => fs.rm(folder, { recursive: true, force: true, maxRetries: 3 }));
  }
}
