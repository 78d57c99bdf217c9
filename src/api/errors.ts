/**
 * Errors: everything reclm throws on bad input or a failed step is a `ReclmError` with a stable `code`, a message
 * that names the file, line (1-based) and field when there is one (`location`), and the HTTP status the service
 * answers with (`statusCode`). Never a bare stack trace, never a ggml abort.
 *
 * ```ts
 * import { loadDataset, isReclmError } from "reclm";
 * try { await loadDataset("custom", { interactions: "logs.csv" }); }
 * catch (e) { if (isReclmError(e) && e.code === "RECLM_ERR_BAD_ROW") console.error(e.location.line, e.message); else throw e; }
 * ```
 * @module errors
 */
export { isReclmError, RECLM_ERROR_CODES, ReclmError } from "../errors.ts";
export type { ReclmErrorCode, SourceLocation } from "../errors.ts";
