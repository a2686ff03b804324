import { Type } from '@sinclair/typebox';
import { ID_PATTERN_SOURCE } from './id-pattern';

export { ID_PATTERN, ID_PATTERN_SOURCE, isValidId } from './id-pattern';

/** A `session_id` or `workspace_id` as a schema. */
export const IdSchema = Type.String({ pattern: ID_PATTERN_SOURCE });
