import * as fs from 'fs';
import * as zlib from 'zlib';
import { constants as BUFFER_LIMITS } from 'buffer';
import { PropertyFormatError, exactBinary, nextDown32, nextUp32, roundDown32, roundUp32, twoSumError } from '@certkd/core';
import { ParseOptions, SExpr, parseSExprs, showText } from './sexpr';

/** An axis-aligned input box (values in the ONNX input's flat element order, X_0 .. X_{n-1}). */
export interface InputBox {
  lower: Float32Array;
  upper: Float32Array;
}

/** One linear constraint on the outputs: sum_j c[j] * Y_j <= d. */
export interface OutputRow {
  c: number[];
  d: number;
}

/**
 * A VNN-LIB 1.0 property. The file describes the UNSAFE region: the property is VIOLATED
 * (the VNN-COMP answer is `sat`) if some input x in some box of `boxes` gives outputs y that
 * satisfy every row of some conjunction in `outputConstraints` (a disjunction of
 * conjunctions). It HOLDS (`unsat`) if no input in any box reaches any disjunct.
 *
 * Box bounds are rounded outwards to float32, so each box contains the real-valued box the
 * file states.
 */
export interface VnnlibProperty {
  inputCount: number;
  outputCount: number;
  /** Disjunction of input boxes (usually one). */
  boxes: InputBox[];
  /** Disjunction (OR) of conjunctions (AND) of rows c·y <= d. */
  outputConstraints: OutputRow[][];
}

/** Matrix form of one disjunct: the disjunct holds iff C y <= d row-wise. */
export interface ConstraintMatrix {
  C: number[][];
  d: number[];
}

/** Per disjunct of `outputConstraints`, the matrix form {C, d} (C: rows x outputCount). */
export function outputConstraintMatrices(prop: VnnlibProperty): ConstraintMatrix[] {
  return prop.outputConstraints.map((conj) => ({ C: conj.map((r) => r.c.slice()), d: conj.map((r) => r.d) }));
}

/** A declared variable: input X_index or output Y_index, with its declaration's position. */
interface Variable {
  kind: 'X' | 'Y';
  index: number;
  line: number;
  column: number;
}

/** sum coef[v] * v + k <= 0, with the source position for messages. */
interface Atom extends Lin {
  line: number;
  column: number;
}

/**
 * How far a float64 number of a term is from the real number the file means: 0, it is exact;
 * 1, it is the real number rounded to nearest (a decimal like 0.1, or one inexact operation on
 * exact numbers); 2, it went through more roundings, so its error is not known to be within half
 * a step (such a number is refused where a bound or row needs it).
 */
type Rounding = 0 | 1 | 2;

interface Lin {
  coef: Map<string, number>;
  k: number;
  /** Rounding of k and of each coefficient (absent: 0). */
  kR: Rounding;
  cR: Map<string, Rounding>;
}

/**
 * A run of atoms that is never changed once built; conjunctions produced by expanding a
 * disjunction share chunks instead of copying atoms.
 */
type Chunk = readonly Atom[];
/** A conjunction: every atom of every chunk. */
type Conj = readonly Chunk[];

/**
 * A formula in factored form: (AND atoms) AND (AND chunks) AND, for each factor, (OR of its
 * conjunctions). Conjoining two forms concatenates their parts, so a long run of assertions
 * after a disjunction costs linear time; disjunctions are multiplied out only where an `or`
 * contains them, and once at the end.
 */
interface Form {
  atoms: Atom[];
  chunks: Chunk[];
  factors: Conj[][];
}

/** A bound on one input, with the position of the atom that set it. */
interface Bound {
  v: number;
  /** 1: v is the real bound rounded to nearest, so the box's float32 bound steps past a v that is a float32. */
  r: Rounding;
  line: number;
  column: number;
}

/** What a chunk says: the tightest input bounds, the output rows, and whether it is satisfiable. */
interface Summary {
  lo: Map<number, Bound>;
  hi: Map<number, Bound>;
  rows: OutputRow[];
  rowKeys: string[];
  /** False when a comparison between constants is false: the conjunction is empty. */
  feasible: boolean;
}

/** Most disjuncts a formula may expand to. */
export const MAX_DISJUNCTS = 100_000;
/** Most output-matrix entries (rows over all disjuncts x outputs) and chunk references in an expansion. */
export const MAX_EXPANSION = 20_000_000;
const IGNORED_COMMANDS = new Set(['set-logic', 'set-info', 'set-option', 'check-sat', 'get-model', 'exit']);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NOT_FINITE = /^[+-]?(nan|inf|infinity)$/i;
/** Nodes or atoms between interrupt() calls. */
const INTERRUPT_EVERY = 4096;

/**
 * Parse VNN-LIB 1.0 text: `declare-const X_i/Y_j Real`, `assert` with <=, >=, <, >, =
 * (strict comparisons read as non-strict), linear terms (+, -, * and / by constants), and
 * and/or nesting. Errors are PropertyFormatError with file, line and column; the text is
 * tokenised as parseSExprs describes (Unicode whitespace is whitespace, control characters
 * are refused, nesting is limited to MAX_NESTING).
 *
 * Refused as well: numbers that are not finite (literals out of the float64 range, NaN, inf,
 * arithmetic that overflows), input bounds outside the float32 range, an empty input box
 * (lower > upper) in any disjunct, and a property whose every disjunct is false (its unsafe
 * region is empty by itself, almost certainly a mistake). An output constraint that always
 * holds (e.g. `(<= Y_0 Y_0)`, or no output assertion at all) is accepted: it is a disjunct
 * with no rows, reached by every input of the box (the answer is `sat`).
 *
 * Time and memory are roughly linear in the text plus the size of the expanded disjunction,
 * which is limited to MAX_DISJUNCTS disjuncts and MAX_EXPANSION matrix entries.
 */
export function parseVnnlib(text: string, file?: string, opts: ParseOptions = {}): VnnlibProperty {
  const forms = parseSExprs(text, file, opts);
  const err: (msg: string, at: { line: number; column: number }) => never = (msg, at) => {
    throw new PropertyFormatError(msg, file, at.line, at.column);
  };
  let ticks = 0;
  const tick = () => {
    if (++ticks % INTERRUPT_EVERY === 0) opts.interrupt?.();
  };
  const declared = new Map<string, Variable>();
  const asserts: SExpr[] = [];
  for (const f of forms) {
    if (f.kind !== 'list' || f.items.length === 0 || f.items[0].kind !== 'atom') err('expected a command such as (declare-const ...) or (assert ...)', f);
    const head = (f.items[0] as { text: string }).text;
    if (head === 'declare-const') {
      const [, nameE, typeE] = f.items;
      if (f.items.length !== 3 || nameE.kind !== 'atom' || typeE.kind !== 'atom') err('expected (declare-const NAME Real)', f);
      const name = (nameE as { text: string }).text;
      const m = /^([XY])_(0|[1-9]\d{0,8})$/.exec(name);
      if (!m) err(`variable '${showText(name)}' must be named X_<i> (input) or Y_<j> (output), i and j without leading zeros`, nameE);
      if ((typeE as { text: string }).text !== 'Real') err(`variable '${name}' has type '${showText((typeE as { text: string }).text)}', expected Real`, typeE);
      if (declared.has(name)) err(`variable '${name}' is declared twice`, nameE);
      declared.set(name, { kind: m![1] as 'X' | 'Y', index: Number(m![2]), line: nameE.line, column: nameE.column });
    } else if (head === 'assert') {
      if (f.items.length !== 2) err('expected (assert FORMULA)', f);
      asserts.push(f.items[1]);
    } else if (!IGNORED_COMMANDS.has(head)) {
      err(`unknown command '${showText(head)}'`, f);
    }
  }
  const count = (p: 'X' | 'Y') => {
    const idx = [...declared.values()].filter((v) => v.kind === p).map((v) => v.index);
    idx.sort((a, b) => a - b);
    idx.forEach((v, i) => {
      if (v !== i) throw new PropertyFormatError(`${p}_${i} is not declared (declarations must be ${p}_0 .. ${p}_${idx.length - 1})`, file, 1, 1);
    });
    return idx.length;
  };
  const inputCount = count('X');
  const outputCount = count('Y');
  if (inputCount === 0) throw new PropertyFormatError('no input variables X_i are declared', file, 1, 1);
  if (outputCount === 0) throw new PropertyFormatError('no output variables Y_j are declared', file, 1, 1);
  const finite = (l: Lin, e: SExpr): Lin => {
    if (!Number.isFinite(l.k) || [...l.coef.values()].some((c) => !Number.isFinite(c))) err('the term overflows to a non-finite value', e);
    return l;
  };

  /** A fresh linear term (the caller may change it). */
  const term = (e: SExpr): Lin => {
    tick();
    if (e.kind === 'atom') {
      if (NUMBER.test(e.text)) {
        const k = Number(e.text);
        if (!Number.isFinite(k)) err(`number '${showText(e.text)}' is out of range`, e);
        return { coef: new Map(), k, kR: decimalIsExact(e.text, k) ? 0 : 1, cR: new Map() };
      }
      if (declared.has(e.text)) return { coef: new Map([[e.text, 1]]), k: 0, kR: 0, cR: new Map() };
      if (NOT_FINITE.test(e.text)) err(`'${e.text}' is not a finite number`, e);
      return err(`unknown symbol '${showText(e.text)}' (not a number or a declared variable)`, e);
    }
    const [h, ...args] = e.items;
    if (!h || h.kind !== 'atom') return err('expected an operator', e);
    switch (h.text) {
      case '+': {
        const acc: Lin = { coef: new Map(), k: 0, kR: 0, cR: new Map() };
        for (const a of args) addInto(acc, term(a), 1);
        return finite(acc, e);
      }
      case '-': {
        if (args.length === 0) return err("'-' needs an argument", e);
        const acc = term(args[0]);
        if (args.length === 1) return scaleInto(acc, -1, 0);
        for (const a of args.slice(1)) addInto(acc, term(a), -1);
        return finite(acc, e);
      }
      case '*': {
        const ts = args.map(term);
        const vars = ts.filter((t) => t.coef.size > 0);
        if (vars.length > 1) return err('a product of variables is not linear', e);
        let c = 1;
        let cR: Rounding = 0;
        for (const t of ts.filter((t) => t.coef.size === 0)) [c, cR] = productRounding(c, cR, t.k, t.kR);
        return finite(vars.length ? scaleInto(vars[0], c, cR) : { coef: new Map(), k: c, kR: cR, cR: new Map() }, e);
      }
      case '/': {
        const ts = args.map(term);
        if (ts.length !== 2 || ts[1].coef.size > 0 || ts[1].k === 0) return err("'/' needs a term and a non-zero constant", e);
        const inv = 1 / ts[1].k;
        const invR: Rounding = ts[1].kR === 0 ? (productIsExact(inv, ts[1].k, 1) ? 0 : 1) : 2;
        return finite(scaleInto(ts[0], inv, invR), e);
      }
      default:
        return err(`unsupported operator '${showText(h.text)}' in a term`, h);
    }
  };

  const conjoin = (into: Form, f: Form): Form => {
    for (const a of f.atoms) into.atoms.push(a);
    for (const c of f.chunks) into.chunks.push(c);
    for (const d of f.factors) into.factors.push(d);
    return into;
  };
  /** The disjunction a form stands for, multiplied out (chunks are shared, not copied). */
  const expand = (f: Form, at: { line: number; column: number }): Conj[] => {
    let out: Chunk[][] = [f.atoms.length ? [f.atoms, ...f.chunks] : [...f.chunks]];
    for (const factor of f.factors) {
      if (out.length * factor.length > MAX_DISJUNCTS) err(`the formula expands to more than ${MAX_DISJUNCTS} disjuncts`, at);
      const next: Chunk[][] = [];
      let refs = 0;
      for (const x of out) {
        for (const y of factor) {
          tick();
          refs += x.length + y.length;
          if (refs > MAX_EXPANSION) err('the formula is too large to expand into a disjunction of conjunctions', at);
          next.push([...x, ...y]);
        }
      }
      out = next;
    }
    return out;
  };

  const formula = (e: SExpr): Form => {
    tick();
    if (e.kind === 'atom') {
      if (e.text === 'true') return { atoms: [], chunks: [], factors: [] };
      if (e.text === 'false') return { atoms: [], chunks: [], factors: [[]] };
      return err(`expected a formula, found '${showText(e.text)}'`, e);
    }
    const [h, ...args] = e.items;
    if (!h || h.kind !== 'atom') return err('expected an operator', e);
    switch (h.text) {
      case 'and':
        return args.reduce<Form>((acc, a) => conjoin(acc, formula(a)), { atoms: [], chunks: [], factors: [] });
      case 'or': {
        const out: Conj[] = [];
        for (const a of args) {
          for (const c of expand(formula(a), e)) out.push(c);
          if (out.length > MAX_DISJUNCTS) err(`more than ${MAX_DISJUNCTS} disjuncts`, e);
        }
        return out.length === 1 ? { atoms: [], chunks: [...out[0]], factors: [] } : { atoms: [], chunks: [], factors: [out] };
      }
      case '<=':
      case '<':
      case '>=':
      case '>':
      case '=': {
        if (args.length < 2) return err(`'${h.text}' needs at least two arguments`, e);
        const ts = args.map(term);
        const atoms: Atom[] = [];
        for (let i = 0; i + 1 < ts.length; i++) {
          const [a, b] = [ts[i], ts[i + 1]];
          const le = (l: Lin, r: Lin) => atoms.push({ ...finite(difference(l, r), e), line: e.line, column: e.column });
          if (h.text === '<=' || h.text === '<' || h.text === '=') le(a, b);
          if (h.text === '>=' || h.text === '>' || h.text === '=') le(b, a);
        }
        return { atoms, chunks: [], factors: [] };
      }
      default:
        return err(`unsupported operator '${showText(h.text)}' in a formula (supported: and, or, <=, >=, <, >, =)`, h);
    }
  };

  // What each chunk says, computed once per chunk however many disjuncts share it.
  let rowCells = 0;
  const summaries = new Map<Chunk, Summary>();
  const summarize = (chunk: Chunk): Summary => {
    const known = summaries.get(chunk);
    if (known) return known;
    const s: Summary = { lo: new Map(), hi: new Map(), rows: [], rowKeys: [], feasible: true };
    for (const atom of chunk) {
      tick();
      const vars = [...atom.coef].filter(([, c]) => c !== 0);
      const xs = vars.filter(([v]) => declared.get(v)!.kind === 'X');
      const ys = vars.filter(([v]) => declared.get(v)!.kind === 'Y');
      if (xs.length && ys.length) err('a constraint mixes inputs X and outputs Y, which is not supported', atom);
      if (xs.length > 1) err('only bounds on single inputs are supported for X (found a linear combination of inputs)', atom);
      if (xs.length === 1) {
        const [v, c] = xs[0];
        const i = declared.get(v)!.index;
        const bound = -atom.k / c;
        if (!Number.isFinite(bound)) err(`the bound on ${v} is not a finite number`, atom);
        const r = quotientRounding(-atom.k, atom.kR, c, atom.cR.get(v) ?? 0, bound);
        if (r === 2) err(`the bound on ${v} is computed with more than one float64 rounding, so its error is not known; write it as one number`, atom);
        const side = c > 0 ? s.hi : s.lo;
        const old = side.get(i);
        if (!old || (c > 0 ? bound < old.v : bound > old.v)) side.set(i, { v: bound, r, line: atom.line, column: atom.column });
      } else if (ys.length) {
        rowCells += outputCount;
        if (rowCells > MAX_EXPANSION) err(`the output constraints are too large (more than ${MAX_EXPANSION} matrix entries)`, atom);
        const c = new Array<number>(outputCount).fill(0);
        for (const [v, cv] of ys) c[declared.get(v)!.index] = cv + 0; // + 0 turns -0 into 0
        // verifiers take d and c as within half a float64 step of the file's numbers (docs/verification.md)
        if (atom.kR === 2 || ys.some(([v]) => atom.cR.get(v) === 2))
          err('an output constraint has a constant or coefficient computed with more than one float64 rounding; write it as one number', atom);
        const row = { c, d: -atom.k + 0 };
        s.rows.push(row);
        s.rowKeys.push(`${c.join(',')}<=${row.d}`);
      } else if (atom.k > 0) {
        s.feasible = false; // a false constant comparison removes the disjunct
      }
    }
    summaries.set(chunk, s);
    return s;
  };

  // The assertions' conjunction: the parts every disjunct shares, and the factors to multiply out.
  const whole: Form = { atoms: [], chunks: [], factors: [] };
  for (const a of asserts) conjoin(whole, formula(a));
  const first = asserts[0] ?? { line: 1, column: 1 };
  const shared = (whole.atoms.length ? [whole.atoms, ...whole.chunks] : whole.chunks).map(summarize);
  const base: Summary = { lo: new Map(), hi: new Map(), rows: [], rowKeys: [], feasible: shared.every((s) => s.feasible) };
  for (const s of shared) mergeSummary(base, s);
  const own = expand({ atoms: [], chunks: [], factors: whole.factors }, first);

  const xName = (i: number) => [...declared].find(([, v]) => v.kind === 'X' && v.index === i)![0];
  const baseLo = new Float64Array(inputCount).fill(-Infinity);
  const baseHi = new Float64Array(inputCount).fill(Infinity);
  base.lo.forEach((b, i) => (baseLo[i] = b.v));
  base.hi.forEach((b, i) => (baseHi[i] = b.v));
  const unbounded: number[] = [];
  for (let i = 0; i < inputCount; i++) if (baseLo[i] === -Infinity || baseHi[i] === Infinity) unbounded.push(i);
  /** The float32 box bound, refused when beyond the float32 range. */
  const round32 = (v: number, up: boolean, i: number, at: Bound): number => {
    let r = up ? roundUp32(v) : roundDown32(v);
    // a rounded decimal that lands on a float32 may stand for a real bound just outside it
    if (at.r === 1 && r === v) r = up ? nextUp32(v) : nextDown32(v);
    if (!Number.isFinite(r)) err(`the ${up ? 'upper' : 'lower'} bound ${v} of X_${i} is outside the float32 range`, at);
    return r;
  };
  const check = (i: number, lo: Bound | undefined, hi: Bound | undefined, many: boolean) => {
    if (!lo || !hi) {
      const decl = declared.get(xName(i))!;
      err(`input X_${i} has no ${lo ? 'upper' : 'lower'} bound${many ? ' in one of the disjuncts' : ''}`, decl);
    }
    if (lo!.v > hi!.v) {
      const later = lo!.line > hi!.line || (lo!.line === hi!.line && lo!.column > hi!.column) ? lo! : hi!;
      err(`the input box is empty: X_${i} has lower bound ${lo!.v} above upper bound ${hi!.v}`, later);
    }
  };
  // A bound the disjunct's own chunks set, or the shared one.
  const tighter = (a: Bound | undefined, b: Bound | undefined, upper: boolean) => (!a ? b : !b ? a : (upper ? b.v < a.v : b.v > a.v) ? b : a);

  // Group the disjuncts by input box (its difference from the shared box) and collect each box's output conjunctions.
  const groups = new Map<string, { overlay: Map<number, [number, number]>; outs: Map<string, OutputRow[]> }>();
  const unboundedSet = new Set(unbounded);
  let baseChecked = false;
  let rowsOut = 0;
  for (const conj of own) {
    const parts = conj.map(summarize);
    if (!base.feasible || !parts.every((s) => s.feasible)) continue;
    const mine: Summary = { lo: new Map(), hi: new Map(), rows: [], rowKeys: [], feasible: true };
    for (const s of parts) mergeSummary(mine, s);
    if (!baseChecked) {
      // inputs the shared assertions bound on both sides are checked once: a disjunct only tightens them
      for (let i = 0; i < inputCount; i++) if (!unboundedSet.has(i)) check(i, base.lo.get(i), base.hi.get(i), false);
      baseChecked = true;
    }
    for (const i of unbounded) check(i, tighter(base.lo.get(i), mine.lo.get(i), false), tighter(base.hi.get(i), mine.hi.get(i), true), own.length > 1);
    const overlay = new Map<number, [number, number]>();
    const touched = new Set([...mine.lo.keys(), ...mine.hi.keys()]);
    for (const i of [...touched].sort((a, b) => a - b)) {
      tick();
      const lo = tighter(base.lo.get(i), mine.lo.get(i), false)!;
      const hi = tighter(base.hi.get(i), mine.hi.get(i), true)!;
      check(i, lo, hi, own.length > 1);
      const l32 = round32(lo.v, false, i, lo);
      const h32 = round32(hi.v, true, i, hi);
      const bl = base.lo.get(i);
      const bh = base.hi.get(i);
      const b = bl && bh ? [round32(bl.v, false, i, bl), round32(bh.v, true, i, bh)] : undefined;
      if (!b || b[0] !== l32 || b[1] !== h32) overlay.set(i, [l32, h32]);
    }
    const key = [...overlay].map(([i, [l, h]]) => `${i}:${l},${h}`).join(';');
    const g = groups.get(key) ?? { overlay, outs: new Map<string, OutputRow[]>() };
    groups.set(key, g);
    const sig = mine.rowKeys.join(';');
    if (!g.outs.has(sig)) {
      rowsOut += (base.rows.length + mine.rows.length) * outputCount;
      if (rowsOut > MAX_EXPANSION) err(`the output constraints expand to more than ${MAX_EXPANSION} matrix entries`, first);
      g.outs.set(sig, [...base.rows, ...mine.rows]);
    }
  }
  if (groups.size === 0) {
    err('the unsafe region is empty: every disjunct contains a false comparison between constants, so there is nothing to verify', first);
  }

  const gs = [...groups.values()];
  const sig = (g: (typeof gs)[number]) => [...g.outs.keys()].sort().join('||');
  if (gs.some((g) => sig(g) !== sig(gs[0]))) {
    throw new PropertyFormatError(
      'different input boxes carry different output constraints; only properties of the form (OR boxes) AND (OR output conjunctions) are supported',
      file,
      first.line,
      first.column,
    );
  }
  const boxes = gs.map((g) => {
    const lower = new Float32Array(inputCount);
    const upper = new Float32Array(inputCount);
    for (let i = 0; i < inputCount; i++) {
      if (g.overlay.has(i)) [lower[i], upper[i]] = g.overlay.get(i)!;
      else [lower[i], upper[i]] = [round32(baseLo[i], false, i, base.lo.get(i)!), round32(baseHi[i], true, i, base.hi.get(i)!)];
    }
    return { lower, upper };
  });
  return { inputCount, outputCount, boxes, outputConstraints: [...gs[0].outs.values()] };
}

/** Conjoin summary `s` into `into` (tightest bounds, rows appended). */
function mergeSummary(into: Summary, s: Summary): void {
  for (const [i, b] of s.lo) {
    const old = into.lo.get(i);
    if (!old || b.v > old.v) into.lo.set(i, b);
  }
  for (const [i, b] of s.hi) {
    const old = into.hi.get(i);
    if (!old || b.v < old.v) into.hi.set(i, b);
  }
  for (const r of s.rows) into.rows.push(r);
  for (const k of s.rowKeys) into.rowKeys.push(k);
  into.feasible &&= s.feasible;
}

/** Read a .vnnlib file, gunzipping it when it is gzip-compressed (.gz or gzip magic bytes). */
export function loadVnnlib(file: string, opts: ParseOptions = {}): VnnlibProperty {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new PropertyFormatError(`cannot read the file: ${(e as Error).message}`, file);
  }
  // the text must fit one JavaScript string
  const limit = BUFFER_LIMITS.MAX_STRING_LENGTH;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes, { maxOutputLength: limit });
    } catch (e) {
      const tooLarge = (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      throw new PropertyFormatError(
        tooLarge ? `the decompressed text is larger than ${limit} bytes` : `cannot decompress the gzip data: ${(e as Error).message}`,
        file,
      );
    }
  } else if (file.endsWith('.gz')) {
    throw new PropertyFormatError('the file ends in .gz but is not gzip data', file);
  }
  if (bytes.length > limit) throw new PropertyFormatError(`the file is larger than ${limit} bytes`, file);
  opts.interrupt?.();
  // invalid UTF-8 decodes to U+FFFD, which the tokeniser refuses outside comments
  return parseVnnlib(bytes.toString('utf8'), file, opts);
}

/** acc += sign * b, in place. */
function addInto(acc: Lin, b: Lin, sign: 1 | -1): Lin {
  for (const [v, c] of b.coef) {
    const [x, r] = sumRounding(acc.coef.get(v) ?? 0, acc.cR.get(v) ?? 0, sign * c, b.cR.get(v) ?? 0);
    acc.coef.set(v, x);
    acc.cR.set(v, r);
  }
  [acc.k, acc.kR] = sumRounding(acc.k, acc.kR, sign * b.k, b.kR);
  return acc;
}

/** a *= s (of rounding sR), in place. */
function scaleInto(a: Lin, s: number, sR: Rounding): Lin {
  for (const [v, c] of a.coef) {
    const [x, r] = productRounding(c, a.cR.get(v) ?? 0, s, sR);
    a.coef.set(v, x);
    a.cR.set(v, r);
  }
  [a.k, a.kR] = productRounding(a.k, a.kR, s, sR);
  return a;
}

/** A fresh a - b. */
function difference(a: Lin, b: Lin): Lin {
  return addInto({ coef: new Map(a.coef), k: a.k, kR: a.kR, cR: new Map(a.cR) }, b, -1);
}

/** x + y in float64 with its rounding: adding an exact 0 keeps the other's; an exact sum of exact numbers stays 0. */
function sumRounding(x: number, xR: Rounding, y: number, yR: Rounding): [number, Rounding] {
  const s = x + y;
  if (y === 0 && yR === 0) return [s, xR];
  if (x === 0 && xR === 0) return [s, yR];
  if (xR === 0 && yR === 0) return [s, twoSumError(x, y, s) === 0 ? 0 : 1];
  return [s, 2];
}

/** x * y in float64 with its rounding: a factor of exactly +-1 or 0 keeps (or clears) it. */
function productRounding(x: number, xR: Rounding, y: number, yR: Rounding): [number, Rounding] {
  const p = x * y;
  if (yR === 0 && (y === 1 || y === -1)) return [p, xR];
  if (xR === 0 && (x === 1 || x === -1)) return [p, yR];
  if ((x === 0 && xR === 0) || (y === 0 && yR === 0)) return [p, 0];
  if (xR === 0 && yR === 0) return [p, productIsExact(x, y, p) ? 0 : 1];
  return [p, 2];
}

/** The rounding of q = x / y computed in float64 (x and y of roundings xR, yR). */
function quotientRounding(x: number, xR: Rounding, y: number, yR: Rounding, q: number): Rounding {
  if (yR === 0 && (y === 1 || y === -1)) return xR;
  if (x === 0 && xR === 0) return 0;
  if (xR === 0 && yR === 0) return productIsExact(q, y, x) ? 0 : 1;
  return 2;
}

/** Whether p = x * y exactly (finite numbers). */
function productIsExact(x: number, y: number, p: number): boolean {
  if (!Number.isFinite(p)) return false;
  return exactBinary(x) * exactBinary(y) === exactBinary(p) << 1074n;
}

/** Whether the decimal `text` (NUMBER's form) is exactly the float64 v. */
export function decimalIsExact(text: string, v: number): boolean {
  const m = /^([+-]?)(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return false;
  const digits = (m[2] + m[3]).replace(/^0+/, '');
  const mant = BigInt(digits || '0') * (m[1] === '-' ? -1n : 1n);
  if (mant === 0n) return v === 0;
  const e = Number(m[4] ?? 0) - m[3].length; // value = mant * 10^e
  if (!Number.isFinite(v) || v === 0 || Math.abs(e) > 400) return false;
  const b = exactBinary(v); // v = b * 2^-1074
  return e >= 0 ? (mant * 10n ** BigInt(e)) << 1074n === b : mant << 1074n === b * 10n ** BigInt(-e);
}
