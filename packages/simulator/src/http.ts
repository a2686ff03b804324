import type { IncomingMessage, ServerResponse } from 'node:http';
import { SimulatorError } from './errors';

const MAX_BODY_BYTES = 1024 * 1024;

/** The JSON object a request carries; an empty body is `{}`. Throws INVALID_ARGUMENT otherwise. */
export async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new SimulatorError('INVALID_ARGUMENT', 'request body is larger than 1 MiB');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SimulatorError('INVALID_ARGUMENT', 'request body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SimulatorError('INVALID_ARGUMENT', 'request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

const STATUS_BY_CODE: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  NO_PAGE_FOR_QR: 404,
  NO_PAGE_FOR_CODE: 404,
  WRONG_PHONE: 403,
  UNKNOWN_PHONE: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
};

/** Answers `{"error":{"code","message"}}`; errors that are not ours become a 500 without details. */
export function sendError(response: ServerResponse, error: unknown): void {
  if (error instanceof SimulatorError) {
    sendJson(response, STATUS_BY_CODE[error.code] ?? 409, { error: { code: error.code, message: error.message } });
  } else {
    sendJson(response, 500, { error: { code: 'INTERNAL', message: 'internal simulator error' } });
  }
}
