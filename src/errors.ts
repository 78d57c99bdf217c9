/**
 * One table of reclm's errors (Fastify's lib/errors.js shape): a stable code, a message, an HTTP status for `serve`.
 * Data errors carry the file, line and field so a user can fix their input without reading a stack trace.
 */

export type ReclmErrorCode =
  | "RECLM_ERR_FILE_NOT_FOUND"
  | "RECLM_ERR_FILE_EMPTY"
  | "RECLM_ERR_BAD_ENCODING"
  | "RECLM_ERR_BAD_HEADER"
  | "RECLM_ERR_BAD_ROW"
  | "RECLM_ERR_BAD_FIELD"
  | "RECLM_ERR_BAD_DATASET"
  | "RECLM_ERR_OUT_OF_MEMORY"
  | "RECLM_ERR_UNKNOWN_DATASET"
  | "RECLM_ERR_UNKNOWN_MODEL"
  | "RECLM_ERR_UNKNOWN_ITEM"
  | "RECLM_ERR_BAD_CONFIG"
  | "RECLM_ERR_BAD_CHECKPOINT"
  | "RECLM_ERR_ENGINE"
  | "RECLM_ERR_ENGINE_CRASH"
  | "RECLM_ERR_SHAPE"
  | "RECLM_ERR_DISPOSED"
  | "RECLM_ERR_INTERNAL"
  | "RECLM_ERR_BAD_REQUEST"
  | "RECLM_ERR_NOT_FOUND"
  | "RECLM_ERR_BODY_TOO_LARGE"
  | "RECLM_ERR_UNSUPPORTED_MEDIA_TYPE"
  | "RECLM_ERR_NOT_READY"
  | "RECLM_ERR_OVERLOADED"
  | "RECLM_ERR_TIMEOUT"
  | "RECLM_ERR_DOWNLOAD";

const HTTP_STATUS: Record<ReclmErrorCode, number> = {
  RECLM_ERR_FILE_NOT_FOUND: 404,
  RECLM_ERR_FILE_EMPTY: 400,
  RECLM_ERR_BAD_ENCODING: 400,
  RECLM_ERR_BAD_HEADER: 400,
  RECLM_ERR_BAD_ROW: 400,
  RECLM_ERR_BAD_FIELD: 400,
  RECLM_ERR_BAD_DATASET: 400,
  // A log too big for the memory limit: the server lacks room for it, not a malformed request.
  RECLM_ERR_OUT_OF_MEMORY: 507,
  RECLM_ERR_UNKNOWN_DATASET: 404,
  RECLM_ERR_UNKNOWN_MODEL: 404,
  RECLM_ERR_UNKNOWN_ITEM: 400,
  RECLM_ERR_BAD_CONFIG: 400,
  RECLM_ERR_BAD_CHECKPOINT: 400,
  RECLM_ERR_ENGINE: 500,
  RECLM_ERR_ENGINE_CRASH: 500,
  RECLM_ERR_SHAPE: 500,
  RECLM_ERR_DISPOSED: 500,
  RECLM_ERR_INTERNAL: 500,
  // The service's answers (src/serve): a request the client must fix, or a designed refusal it may retry.
  RECLM_ERR_BAD_REQUEST: 400,
  RECLM_ERR_NOT_FOUND: 404,
  RECLM_ERR_BODY_TOO_LARGE: 413,
  RECLM_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  RECLM_ERR_NOT_READY: 503,
  RECLM_ERR_OVERLOADED: 503,
  RECLM_ERR_TIMEOUT: 503,
  // A model URI whose host cannot be reached or whose download failed: an upstream's failure, not the request's.
  RECLM_ERR_DOWNLOAD: 502,
};

/** Every code a ReclmError can carry (its `statusCode` is the HTTP status `serve` answers it with). */
export const RECLM_ERROR_CODES: readonly ReclmErrorCode[] = Object.keys(HTTP_STATUS) as ReclmErrorCode[];

/** Where in an input file a problem is. Lines are 1-based, as an editor shows them. */
export interface SourceLocation {
  file?: string;
  line?: number;
  field?: string;
}

export class ReclmError extends Error {
  readonly code: ReclmErrorCode;
  readonly location: SourceLocation;
  readonly statusCode: number;

  constructor(code: ReclmErrorCode, message: string, location: SourceLocation = {}, options?: { cause?: unknown }) {
    super(formatMessage(message, location), options);
    this.name = "ReclmError";
    this.code = code;
    this.location = location;
    this.statusCode = HTTP_STATUS[code];
  }
}

function formatMessage(message: string, loc: SourceLocation): string {
  const where: string[] = [];
  if (loc.file !== undefined) where.push(loc.line !== undefined ? `${loc.file}:${loc.line}` : loc.file);
  if (loc.field !== undefined) where.push(`field "${loc.field}"`);
  return where.length ? `${where.join(", ")}: ${message}` : message;
}

export function isReclmError(e: unknown): e is ReclmError {
  return e instanceof ReclmError;
}
