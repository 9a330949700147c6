/**
 * Typo suggestions: the known key or variable closest to a name that matches none, for the
 * "did you mean …?" of unknown keys and unknown PGWALSTREAMS_ variables.
 */

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known name closest to `name` (ignoring case, `_` and `-`), if it is close enough to be a typo. */
export function closest(name: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = levenshtein(norm(name), norm(candidate));
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  const limit = name.length <= 4 ? 1 : 2;
  return best && best.distance <= limit ? best.name : undefined;
}
