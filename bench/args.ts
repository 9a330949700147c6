/** Command-line helpers shared by the bench entry points. */

/** The value of `--<name>` as a whole number ≥ 1 (`_` and `,` allowed as separators), or `fallback` when absent. */
export function wholeNumber(name: string, text: string | undefined, fallback: number, usage: string): number {
  if (text === undefined) return fallback;
  const n = Number(text.replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${text}: use a whole number ≥ 1\n${usage}`);
  return n;
}
