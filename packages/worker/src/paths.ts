/** `WHATSAPP_SESSIONS_DIR` when unset. */
export const DEFAULT_SESSIONS_DIR = './sessions';
