/** Types for npm:damerau-levenshtein, which ships none. */
export default function distance(
  a: string,
  b: string,
): { steps: number; relative: number; similarity: number };
