/** Levenshtein distance between two strings. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The hint for an unknown name: `Did you mean \`x\`?` for a close match
 * (same letters in another case, or at most two edits away), else the list
 * of known names.
 */
export function didYouMean(name: string, known: readonly string[]): string {
  const lower = name.toLowerCase();
  const suggestion = known.find((candidate) => candidate.toLowerCase() === lower || distance(candidate.toLowerCase(), lower) <= 2);
  return suggestion === undefined ? `Known options: ${known.join(', ')}.` : `Did you mean \`${suggestion}\`?`;
}
