/**
 * The end of a server's log file, for error messages: when a server fails to start, the reason is
 * in its last lines, and the test output should show them instead of "exited with code 1".
 */
import { readFileSync } from 'node:fs';

/** The last `lines` lines of `file`, or a note saying why they could not be read. */
export function logTail(file: string, lines = 30): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return `(no log at ${file}: ${(error as Error).message})`;
  }
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n') || `(log ${file} is empty)`;
}
