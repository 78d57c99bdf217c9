import { formatCliError } from "./errors.ts";
import { buildProgram } from "./program.ts";

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`${formatCliError(e)}\n`);
  process.exitCode = 1;
}
