/**
 * The `hpa-detect` command line: yargs parses, each command lives in src/cli/commands/.
 * Returns the process exit code (0 ok, 1 failure, 2 bad usage) instead of exiting, so tests and
 * embedders can call it in-process.
 */
import yargs from 'yargs';
import { commands } from './commands.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js';

/** A validation failure reported by yargs itself (unknown option, bad choice, missing argument). */
class YargsUsageError extends UsageError {}

export async function main(argv: string[]): Promise<number> {
  const parser = yargs(argv)
    .scriptName('hpa-detect')
    .usage('$0 <command> [options]\n\nFind and classify cells in multi-channel microscopy images.')
    .strict()
    .strictCommands()
    .demandCommand(1, 'Name a command (see the list above).')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    // Throwing here stops yargs before it runs the command's handler.
    .fail((msg, err) => {
      if (err) throw err;
      throw new YargsUsageError(msg);
    });
  for (const command of commands) parser.command(command);

  try {
    await parser.parseAsync();
  } catch (err) {
    if (err instanceof YargsUsageError) return reportUsage(parser, err.message);
    if (err instanceof CliError) {
      process.stderr.write(`hpa-detect: ${err.message}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`hpa-detect: ${message}\n`);
    if (process.env.HPA_DETECT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return EXIT_FAILURE;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
}

function reportUsage(parser: { showHelp(level: string): unknown }, message: string): number {
  parser.showHelp('error');
  process.stderr.write(`\nhpa-detect: ${message}\n`);
  return EXIT_USAGE;
}
