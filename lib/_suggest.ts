import { closest, distance } from "fastest-levenshtein";

/** `; did you mean "x"?` when a candidate is close to `word`, else "". */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const list = [...candidates];
  if (list.length === 0) return "";
  const best = closest(word, list);
  const limit = Math.max(2, Math.floor(word.length / 3));
  return distance(word, best) <= limit ? `; did you mean ${JSON.stringify(best)}?` : "";
}
