/**
 * Small writers of bytes into a buffer, shared by the event encoder and the frame writer. Each
 * writes at `at` and returns where it ended; the caller has made room. Short runs are copied in a
 * loop, which is faster than a native copy for a few dozen bytes.
 */

/** The lowercase hex digits, by value. */
export const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/** Copies bytes `[start, end)` of `src`. */
export function putBytes(buf: Uint8Array, at: number, src: Uint8Array, start = 0, end = src.length): number {
  const n = end - start;
  if (n > 64) {
    buf.set(start === 0 && end === src.length ? src : src.subarray(start, end), at);
    return at + n;
  }
  for (let i = start; i < end; i++) buf[at++] = src[i]!;
  return at;
}

/** Writes a string the caller knows to be ASCII (ids, LSNs), one byte per character. */
export function putAscii(buf: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
  return at;
}

/** The number of decimal digits of a non-negative integer below 2^53. */
export function decimalDigits(n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  return digits;
}

/** Writes a non-negative integer below 2^53 in decimal (at most 16 bytes). */
export function putDecimal(buf: Uint8Array, at: number, n: number): number {
  const digits = decimalDigits(n);
  let p = at + digits;
  do {
    buf[--p] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return at + digits;
}
