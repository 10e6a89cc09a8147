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
    console.error(err);
    process.exitCode = 1;
  },
);
