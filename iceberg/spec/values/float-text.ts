/**
 * Text of float and double values both ways: the shortest text of a float32 (how Java prints floats,
 * so JSON defaults, partition paths and CLI output match Java-written ones), and the names of the
 * non-finite values, which JSON lacks as numbers (spec "Appendix D: Single-value serialization" writes
 * them as Jackson does, "NaN", "Infinity", "-Infinity") and users type in literals.
 */

/**
 * Shortest decimal text that reads back to the same float32 (`0.1` for the float nearest 0.1, where
 * the double it widens to prints as 0.10000000149011612). Java prints floats this way.
 */
export function float32ToString(v: number): string {
  if (!Number.isFinite(v) || v === 0) return String(v);
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

/** NaN, Infinity or -Infinity for their names (any case, `inf` short, optional `+`); null for other text. */
export function specialFloat(text: string): number | null {
  switch (text.toLowerCase()) {
    case 'nan': return NaN;
    case 'infinity': case '+infinity': case 'inf': case '+inf': return Infinity;
    case '-infinity': case '-inf': return -Infinity;
    default: return null;
  }
}
