import { Kind, Type, TypeRegistry, type SchemaOptions, type TUnsafe } from '@sinclair/typebox';

// Two schema kinds written as the plain JSON Schema that Fastify's serializer and @fastify/swagger
// handle best. TypeBox's own `Union` of literals, or with `Null`, emits `anyOf`, which
// fast-json-stringify serializes by testing each branch: a list of 10 sessions serialized 1.6x
// slower that way than with `enum` and `type: [..., "null"]`. Both kinds are registered with
// TypeRegistry, so TypeCompiler and Value check them like any TypeBox type.

/** A string out of a fixed list: `{"type":"string","enum":[...]}`. */
export interface TStringEnum<T extends string = string> extends TUnsafe<T> {
  type: 'string';
  enum: T[];
}

/** A string or null: `{"type":["string","null"]}`. */
export interface TNullableString extends TUnsafe<string | null> {
  type: ['string', 'null'];
}

TypeRegistry.Set<TStringEnum>('StringEnum', (schema, value) => typeof value === 'string' && schema.enum.includes(value));
TypeRegistry.Set<TNullableString>('NullableString', (_schema, value) => value === null || typeof value === 'string');

/** A schema accepting exactly the strings of `values` (a vocabulary: statuses, error codes...). */
export function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions = {}): TStringEnum<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, [Kind]: 'StringEnum', type: 'string', enum: [...values] }) as TStringEnum<T[number]>;
}

/** A schema accepting any string or null. */
export function NullableString(options: SchemaOptions = {}): TNullableString {
  return Type.Unsafe<string | null>({ ...options, [Kind]: 'NullableString', type: ['string', 'null'] }) as TNullableString;
}
