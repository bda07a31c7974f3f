/** The method that decided a verdict. */
export type DecidingMethod = 'clean' | 'attack' | 'pgd' | 'ibp' | 'crown' | 'alpha-crown' | 'input-bab' | 'relu-bab' | 'none';

/** One disjunct of an unsafe region: every row c·y <= d holds. */
export interface OutputRow {
  c: number[];
  d: number;
}

interface Base {
  method: DecidingMethod;
  time_s: number;
  /**
   * Claims (the whole box or a sub-domain verified by a float32 bound) that the sound rounding
   * re-check refused; such claims count as not verified (docs/verification.md).
   */
  downgraded?: number;
  /** Bound methods skipped because they would not fit the memory budget. */
  skipped?: string[];
}

/** Closed set of verification outcomes. */
export type Verdict =
  | (Base & { kind: 'verified-incomplete' })
  | (Base & { kind: 'verified-complete' })
  | (Base & { kind: 'falsified'; witness: Float32Array; disjunct: number; output: Float32Array })
  | (Base & { kind: 'timeout' })
  | (Base & { kind: 'unknown' })
  | (Base & { kind: 'error'; message: string });

export type VerdictKind = Verdict['kind'];
export const VERDICT_KINDS: readonly VerdictKind[] = ['verified-incomplete', 'verified-complete', 'falsified', 'timeout', 'unknown', 'error'];

export function isVerified(v: Verdict): boolean {
  return v.kind === 'verified-incomplete' || v.kind === 'verified-complete';
}

/** A JSON-safe form of a verdict (typed arrays become number arrays). */
export function verdictToJson(v: Verdict): Record<string, unknown> {
  if (v.kind === 'falsified') return { ...v, witness: Array.from(v.witness), output: Array.from(v.output) };
  return { ...v };
}
