#!/usr/bin/env -S node --max-semi-space-size=16
/**
 * pgwalstreams: parses the command line and runs the command; its exit status is the process's.
 *
 * Exit codes: 0 after a clean stop (SIGTERM, SIGINT) or a command that succeeded, 1 on a fatal
 * error at run time, 2 on a usage or configuration error.
 */
import { parseCommand } from './cli.js';
import { runCommand } from './commands/dispatch.js';

process.exitCode = await runCommand(parseCommand(process.argv.slice(2), process.env), process);
