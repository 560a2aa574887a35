// Route weights that always add up to 100: moving one route's weight spreads the rest over the others in
// proportion to their current weights (evenly when they are all 0), rounded so the total stays exactly 100.

/** The weights after route `index` is set to `value` (0..100, whole percent). */
export function rebalance(weights: number[], index: number, value: number): number[] {
  const v = Math.max(0, Math.min(100, Math.round(value)));
  if (weights.length <= 1) return weights.map(() => 100);
  const others = weights.map((w, i) => (i === index ? 0 : Math.max(0, w)));
  const rest = 100 - v;
  const sum = others.reduce((a, b) => a + b, 0);
  const share = others.map((w, i) => (i === index ? 0 : sum === 0 ? rest / (weights.length - 1) : (rest * w) / sum));
  const out = share.map(Math.floor);
  let missing = rest - out.reduce((a, b) => a + b, 0);
  const byRemainder = share
    .map((s, i) => ({ i, r: s - Math.floor(s) }))
    .filter(({ i }) => i !== index)
    .sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of byRemainder) {
    if (missing <= 0) break;
    out[i] += 1;
    missing -= 1;
  }
  out[index] = v;
  return out;
}

/** Weights spread evenly over `n` routes, adding up to 100. */
export function even(n: number): number[] {
  if (n === 0) return [];
  const base = Math.floor(100 / n);
  return Array.from({ length: n }, (_, i) => base + (i < 100 - base * n ? 1 : 0));
}

/** A percentage as the API writes it ("90%") as a number. */
export function percent(v: unknown): number {
  const n = parseFloat(String(v ?? '0'));
  return Number.isFinite(n) ? n : 0;
}
