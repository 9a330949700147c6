/** Test helper: asserts that a value writer refuses its input with a `value` DecodeError. */
import assert from 'node:assert/strict';
import { DecodeError } from '../../src/errors.js';

/**
 * Asserts that `write(text)` throws a `DecodeError` with tag `value`, the given offset, and a
 * message matching `message`; returns the error for further checks (its `cause`).
 */
export function assertInvalid(
  write: (text: string) => string,
  text: string,
  offset: number,
  message: RegExp,
): DecodeError {
  let caught: unknown;
  try {
    write(text);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DecodeError, `expected a DecodeError for ${JSON.stringify(text)}`);
  assert.equal(caught.tag, 'value');
  assert.equal(caught.offset, offset, `offset for ${JSON.stringify(text)}: ${caught.message}`);
  assert.match(caught.message, message);
  return caught;
}
