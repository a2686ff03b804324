import path from 'node:path';

/** `WHATSAPP_SESSIONS_DIR` when unset. */
export const DEFAULT_SESSIONS_DIR = './sessions';

/**
 * whatsapp-web.js's web-version cache (`local`): inside the sessions folder, the one folder the
 * worker must own and write wherever it runs (systemd's StateDirectory, a container's volume),
 * private by the worker's umask (0700), and used by one worker at a time (its folder lock). Not
 * the working directory (read-only under the unit) nor HOME (often absent for a service user). A
 * name that is no session id: the restore never takes it for a workspace.
 */
export function webVersionCacheFolder(sessionsDir: string): string {
  return path.join(sessionsDir, '.wwebjs_cache');
}
