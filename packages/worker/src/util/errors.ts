/** The message of anything thrown, for a log line or an error answer. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
