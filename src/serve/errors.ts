/**
 * Every refusal the service sends, in one shape (schemas.ts ErrorResponse): Fastify's own (validation, body parser,
 * bad URL) and reclm's (ReclmError) become { statusCode, code, error, message, field?, problems? }. Anything else is
 * our bug: a 500 that names no internals.
 */
import { STATUS_CODES } from "node:http";
import { isReclmError, ReclmError, type ReclmErrorCode } from "../errors.ts";

/** One unusable part of a request (a history entry), reported together with the others. */
export interface Problem {
  field: string;
  code: ReclmErrorCode;
  message: string;
}

/** A ReclmError with every problem of the request attached, not only the first. */
export class RequestError extends ReclmError {
  constructor(
    code: ReclmErrorCode,
    message: string,
    field: string,
    readonly problems: readonly Problem[] = [],
  ) {
    super(code, message, { field });
  }
}

export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  field?: string;
  problems?: Problem[];
}

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_S = 1;

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: AjvError[];
  validationContext?: string;
}

/** "/history/2/title" -> "history[2].title". */
export function fieldOfPath(path: string): string {
  return path
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), "");
}

function validationBody(e: FastifyLikeError & { validation: AjvError[] }): ErrorBody {
  const part = e.validationContext ?? "request";
  // oneOf reports each branch's failure, then its own; the history entry's own rule is clearer than any branch's.
  const one = e.validation.find((v) => v.keyword === "oneOf") ?? e.validation[0];
  let field = fieldOfPath(one.instancePath);
  let message: string;
  if (one.keyword === "required") {
    field = field ? `${field}.${String(one.params.missingProperty)}` : String(one.params.missingProperty);
    message = "is required";
  } else if (one.keyword === "additionalProperties") {
    field = field ? `${field}.${String(one.params.additionalProperty)}` : String(one.params.additionalProperty);
    message = "is not a known field";
  } else if (one.keyword === "oneOf" && /^history\[\d+\]$/.test(field)) {
    message = 'must be an item id (a non-empty string or a non-negative integer) or {"title": "..."}';
  } else {
    message = one.message ?? "is invalid";
  }
  const where = field || part;
  return {
    statusCode: 400,
    code: "RECLM_ERR_BAD_REQUEST",
    error: STATUS_CODES[400]!,
    message: `${part === "body" ? "" : `${part} `}${where} ${message}`.trim(),
    field: where,
  };
}

/** Fastify's body-parser and URL errors, by code: the status, reclm's code, the field. */
const FASTIFY_ERRORS: Record<string, { status: number; code: ReclmErrorCode; field: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: "RECLM_ERR_BODY_TOO_LARGE", field: "body" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: "RECLM_ERR_UNSUPPORTED_MEDIA_TYPE", field: "content-type" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: "RECLM_ERR_BAD_REQUEST", field: "content-length" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: "RECLM_ERR_BAD_REQUEST", field: "body" },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: "RECLM_ERR_BAD_REQUEST", field: "body" },
  FST_ERR_BAD_URL: { status: 400, code: "RECLM_ERR_BAD_REQUEST", field: "url" },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: "RECLM_ERR_BAD_REQUEST", field: "url" },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: "RECLM_ERR_BAD_REQUEST", field: "url" },
};

/** The answer to any error a request raised. `internal` is told about the 500s (our bugs) for the log. */
export function errorBody(e: unknown, internal?: (e: unknown) => void): ErrorBody {
  if (e instanceof RequestError) {
    const body = reclmBody(e);
    if (e.problems.length) body.problems = [...e.problems];
    return body;
  }
  if (isReclmError(e)) {
    if (e.statusCode >= 500 && e.statusCode !== 503) internal?.(e);
    return reclmBody(e);
  }
  const f = e as FastifyLikeError;
  if (f && Array.isArray(f.validation) && f.validation.length > 0) return validationBody(f as FastifyLikeError & { validation: AjvError[] });
  const known = f?.code !== undefined ? FASTIFY_ERRORS[f.code] : undefined;
  if (known) return { statusCode: known.status, code: known.code, error: STATUS_CODES[known.status]!, message: f.message, field: known.field };
  // A JSON syntax error from the body parser ("Unexpected token ..."), or another 4xx Fastify raised itself.
  if (e instanceof SyntaxError || (typeof f?.statusCode === "number" && f.statusCode >= 400 && f.statusCode < 500)) {
    const status = typeof f.statusCode === "number" && f.statusCode >= 400 && f.statusCode < 500 ? f.statusCode : 400;
    return { statusCode: status, code: status === 404 ? "RECLM_ERR_NOT_FOUND" : "RECLM_ERR_BAD_REQUEST", error: STATUS_CODES[status] ?? "Bad Request", message: f.message, field: "body" };
  }
  internal?.(e);
  return { statusCode: 500, code: "RECLM_ERR_INTERNAL", error: STATUS_CODES[500]!, message: "internal error (the server log has the details)" };
}

function reclmBody(e: ReclmError): ErrorBody {
  const body: ErrorBody = { statusCode: e.statusCode, code: e.code, error: STATUS_CODES[e.statusCode] ?? "Error", message: e.message };
  if (e.location.field !== undefined) body.field = e.location.field;
  return body;
}
