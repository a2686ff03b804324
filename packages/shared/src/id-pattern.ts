// The contract's id pattern on its own, without TypeBox: the CLI checks `--workspace` with it
// before anything heavy is loaded (`ids.ts` re-exports it beside the id schema).

/** Pattern every `session_id` and `workspace_id` must match (the contract's). */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;

/** The same pattern as a string, for JSON schemas. */
export const ID_PATTERN_SOURCE = '^[A-Za-z0-9_-]{1,100}$';

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}
