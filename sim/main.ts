/**
 * @module sim/main
 * `npm start [-- options]`: the simulator, the main job. It lives beside the package, not in it: the
 * embedded broker (aedes) it starts is a development dependency, never one of the SDK's.
 */
import { run } from '../src/cli/run.js';
import { simulateCommands } from './simulate.js';

run(['simulate', ...process.argv.slice(2)], console.log, console.error, simulateCommands).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
