import { outcomeOf } from './cli/exit-codes.js';
import { createProgram } from './cli/program.js';

// Entry point: parse the command line, run the command, and turn any failure into words and an
// exit code (src/cli/exit-codes.ts).

// `labctl scenario list | head`: a reader that has seen enough is no failure
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

const program = createProgram();
const argv = process.argv.slice(2);

try {
  // labctl alone prints its help on stdout, as `labctl --help` does
  if (argv.length === 0) program.outputHelp();
  else await program.parseAsync(argv, { from: 'user' });
} catch (error) {
  const { exitCode, message } = outcomeOf(error);
  if (message !== '') process.stderr.write(`labctl: ${message}\n`);
  process.exitCode = exitCode;
}
