import path from 'node:path';

/** `WHATSAPP_SESSIONS_DIR` when unset. */
export const DEFAULT_SESSIONS_DIR = './sessions';

/**
 * The sessions folder, absolute, as the configuration resolves it. The worker's first step (the
 * earlier worker's browsers) needs it before the configuration, with its validator, is loaded.
 */
export function sessionsDirFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.WHATSAPP_SESSIONS_DIR || DEFAULT_SESSIONS_DIR);
}
