// How the store's columns come back from a driver, in one place.

/** node-postgres parses `timestamptz` into a Date; a driver configured otherwise gives its text. */
export function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

/**
 * node-postgres gives `bytea` as a Buffer; PGlite (the CLI's embedded database) as a plain
 * Uint8Array. A Buffer either way, over the same memory (no copy of a snapshot's megabytes).
 */
export function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
