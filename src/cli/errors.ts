/**
 * One line per failure: a ReclmError is the user's to fix (bad input, unknown name), so it prints as
 * `reclm: CODE: message` without a stack; anything else is our bug and says so. RECLM_DEBUG=1 adds the stack.
 */
import { isReclmError } from "../errors.ts";

export function formatCliError(e: unknown, debug = process.env.RECLM_DEBUG === "1"): string {
  let line: string;
  if (isReclmError(e)) line = `reclm: ${e.code}: ${e.message}`;
  else if (e instanceof Error && e.name === "AbortError") line = "reclm: aborted";
  else line = `reclm: internal error: ${e instanceof Error ? e.message : String(e)} (set RECLM_DEBUG=1 for the stack trace)`;
  if (debug && e instanceof Error && e.stack) line += `\n${e.stack}`;
  return line;
}
