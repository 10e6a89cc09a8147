/**
 * @module cli/main
 * Entry point of the `edgepay` bin (and `npm start`).
 */
import { run } from './run.js';

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Not an EdgepayError (those are answered in run): still one line, not a stack trace, unless asked for.
    if (process.env.EDGEPAY_DEBUG) console.error(err);
    else console.error(`edgepay: unexpected error: ${(err as Error)?.message ?? String(err)} (EDGEPAY_DEBUG=1 shows where)`);
    process.exitCode = 70; // EX_SOFTWARE
  },
);
