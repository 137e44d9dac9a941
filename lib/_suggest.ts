// @ts-types="./_damerau_levenshtein.d.ts"
import distance from "damerau-levenshtein";

/** The longest word a suggestion is looked for. */
const MAX_WORD = 128;

/**
 * `; did you mean "x"?` (or `"x" or "y"`) when candidates are close to
 * `word`: at most a third of its length in edits, a swap of two neighbours
 * counting as one; else "".
 */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  // A one-letter word is close to every other: suggesting would be noise. The distance costs
  // length × length: past MAX_WORD there is nothing useful to suggest anyway.
  if (word.length > MAX_WORD) return "";
  const limit = word.length < 2 ? 0 : Math.max(1, Math.floor(word.length / 3));
  const scored = [...new Set(candidates)]
    .filter((candidate) => Math.abs(candidate.length - word.length) <= limit)
    .map((candidate) => ({ candidate, steps: distance(word, candidate).steps }))
    .filter(({ steps }) => steps <= limit);
  if (scored.length === 0) return "";
  const best = Math.min(...scored.map(({ steps }) => steps));
  const picks = scored.filter(({ steps }) => steps === best).slice(0, 3);
  return `; did you mean ${picks.map(({ candidate }) => JSON.stringify(candidate)).join(" or ")}?`;
}
