/**
 * The errors of column value conversion: a `DecodeError` with tag `value` and the offset in the
 * value's text where conversion failed.
 */
import { DecodeError } from '../errors.js';

/** The tag of every error thrown by a value writer. */
export const VALUE_TAG = 'value';

/** At most this many characters of a value are quoted in an error message. */
const PREVIEW_CHARS = 64;

/** A value's text as quoted in an error message, cut short when long. */
export function preview(text: string): string {
  return JSON.stringify(text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text);
}

/** `invalid <type> value "<text>"` (plus an optional reason) at `offset` of the text. */
export function invalidValue(type: string, text: string, offset: number, reason?: string): DecodeError {
  const message = `invalid ${type} value ${preview(text)}`;
  return new DecodeError(reason === undefined ? message : `${message}: ${reason}`, VALUE_TAG, offset);
}

/**
 * Re-throws an error from a nested writer (an array element, a record field, a range bound) as an
 * error about the enclosing value, keeping the inner one as `cause`.
 *
 * `start` is where the nested text begins in the enclosing text; when the nested text was copied
 * verbatim (`verbatim`), the inner offset is added to it, otherwise (unquoting changed the
 * characters) the error points at `start`. Errors that are not value errors are re-thrown as is.
 */
export function nestedError(
  err: unknown,
  type: string,
  text: string,
  what: string,
  start: number,
  verbatim: boolean,
): never {
  if (!(err instanceof DecodeError) || err.tag !== VALUE_TAG) throw err;
  const offset = verbatim ? start + err.offset : start;
  throw new DecodeError(`invalid ${type} value ${preview(text)}: bad ${what}`, VALUE_TAG, offset, {
    cause: err,
  });
}
