/** Deterministic 32-bit seeds derived from the recipe seed, so a stage's randomness does not depend on what ran before it. */
export function deriveSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h ^= p >>> 0;
    h = Math.imul(h, 0x01000193) >>> 0;
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  }
  return h >>> 0;
}

/** A 32-bit FNV-1a hash of a string's UTF-16 code units (stable across runs and machines). */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * The seed of a named random stream of a run: it depends on the recipe seed and the key
 * (a model's seed key, 'evaluate:pgd_acc', ...), never on a stage's position, so two recipes
 * that differ only in their losses or in extra stages draw the same numbers (paired runs).
 */
export function keyedSeed(runSeed: number, ...keys: string[]): number {
  return deriveSeed(runSeed, ...keys.map(hashKey));
}
