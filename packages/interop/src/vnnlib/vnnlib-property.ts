import * as fs from 'fs';
import * as zlib from 'zlib';
import { PropertyFormatError } from '@certkd/core';
import { SExpr, parseSExprs } from './sexpr';
import { roundDown32, roundUp32 } from './float32-round';

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

/** sum coef[v] * v + k <= 0, with the source position for messages. */
interface Atom {
  coef: Map<string, number>;
  k: number;
  line: number;
  column: number;
}
type Dnf = Atom[][];

interface Lin {
  coef: Map<string, number>;
  k: number;
}

const MAX_DISJUNCTS = 100_000;
const IGNORED_COMMANDS = new Set(['set-logic', 'set-info', 'set-option', 'check-sat', 'get-model', 'exit']);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parse VNN-LIB 1.0 text: `declare-const X_i/Y_j Real`, `assert` with <=, >=, <, >, =
 * (strict comparisons read as non-strict), linear terms (+, -, * and / by constants), and
 * and/or nesting. Errors are PropertyFormatError with line and column.
 */
export function parseVnnlib(text: string, file?: string): VnnlibProperty {
  const forms = parseSExprs(text, file);
  const err: (msg: string, at: { line: number; column: number }) => never = (msg, at) => {
    throw new PropertyFormatError(msg, file, at.line, at.column);
  };
  const declared = new Map<string, 'X' | 'Y'>();
  const asserts: SExpr[] = [];
  for (const f of forms) {
    if (f.kind !== 'list' || f.items.length === 0 || f.items[0].kind !== 'atom') err('expected a command such as (declare-const ...) or (assert ...)', f);
    const head = (f.items[0] as { text: string }).text;
    if (head === 'declare-const') {
      const [, nameE, typeE] = f.items;
      if (f.items.length !== 3 || nameE.kind !== 'atom' || typeE.kind !== 'atom') err('expected (declare-const NAME Real)', f);
      const name = (nameE as { text: string }).text;
      const m = /^([XY])_(\d+)$/.exec(name);
      if (!m) err(`variable '${name}' must be named X_<i> (input) or Y_<j> (output)`, nameE);
      if ((typeE as { text: string }).text !== 'Real') err(`variable '${name}' has type '${(typeE as { text: string }).text}', expected Real`, typeE);
      if (declared.has(name)) err(`variable '${name}' is declared twice`, nameE);
      declared.set(name, m![1] as 'X' | 'Y');
    } else if (head === 'assert') {
      if (f.items.length !== 2) err('expected (assert FORMULA)', f);
      asserts.push(f.items[1]);
    } else if (!IGNORED_COMMANDS.has(head)) {
      err(`unknown command '${head}'`, f);
    }
  }
  const count = (p: 'X' | 'Y') => {
    const idx = [...declared].filter(([, k]) => k === p).map(([n]) => Number(n.slice(2)));
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

  const term = (e: SExpr): Lin => {
    if (e.kind === 'atom') {
      if (NUMBER.test(e.text)) return { coef: new Map(), k: Number(e.text) };
      if (declared.has(e.text)) return { coef: new Map([[e.text, 1]]), k: 0 };
      return err(`unknown symbol '${e.text}' (not a number or a declared variable)`, e);
    }
    const [h, ...args] = e.items;
    if (!h || h.kind !== 'atom') return err('expected an operator', e);
    const ts = args.map(term);
    switch (h.text) {
      case '+':
        return ts.reduce((a, b) => addLin(a, b, 1), { coef: new Map(), k: 0 });
      case '-':
        if (ts.length === 0) return err("'-' needs an argument", e);
        if (ts.length === 1) return scaleLin(ts[0], -1);
        return ts.slice(1).reduce((a, b) => addLin(a, b, -1), ts[0]);
      case '*': {
        const vars = ts.filter((t) => t.coef.size > 0);
        if (vars.length > 1) return err('a product of variables is not linear', e);
        const c = ts.filter((t) => t.coef.size === 0).reduce((a, t) => a * t.k, 1);
        return vars.length ? scaleLin(vars[0], c) : { coef: new Map(), k: c };
      }
      case '/': {
        if (ts.length !== 2 || ts[1].coef.size > 0 || ts[1].k === 0) return err("'/' needs a term and a non-zero constant", e);
        return scaleLin(ts[0], 1 / ts[1].k);
      }
      default:
        return err(`unsupported operator '${h.text}' in a term`, h);
    }
  };

  const formula = (e: SExpr): Dnf => {
    if (e.kind === 'atom') {
      if (e.text === 'true') return [[]];
      if (e.text === 'false') return [];
      return err(`expected a formula, found '${e.text}'`, e);
    }
    const [h, ...args] = e.items;
    if (!h || h.kind !== 'atom') return err('expected an operator', e);
    switch (h.text) {
      case 'and':
        return args.reduce<Dnf>((acc, a) => andDnf(acc, formula(a), e), [[]]);
      case 'or': {
        const out: Dnf = [];
        for (const a of args) out.push(...formula(a));
        if (out.length > MAX_DISJUNCTS) err(`more than ${MAX_DISJUNCTS} disjuncts`, e);
        return out;
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
          const le = (l: Lin, r: Lin) => atoms.push({ ...addLin(l, r, -1), line: e.line, column: e.column });
          if (h.text === '<=' || h.text === '<' || h.text === '=') le(a, b);
          if (h.text === '>=' || h.text === '>' || h.text === '=') le(b, a);
        }
        return [atoms];
      }
      default:
        return err(`unsupported operator '${h.text}' in a formula (supported: and, or, <=, >=, <, >, =)`, h);
    }
  };
  const andDnf = (a: Dnf, b: Dnf, at: SExpr): Dnf => {
    if (a.length === 1 && b.length === 1) {
      a[0].push(...b[0]);
      return a;
    }
    if (a.length * b.length > MAX_DISJUNCTS) err(`the formula expands to more than ${MAX_DISJUNCTS} disjuncts`, at);
    const out: Dnf = [];
    for (const x of a) for (const y of b) out.push([...x, ...y]);
    return out;
  };

  let dnf: Dnf = [[]];
  for (const a of asserts) dnf = andDnf(dnf, formula(a), a);

  // Split each disjunct into an input box and an output conjunction.
  const groups = new Map<string, { box: InputBox; outs: Map<string, OutputRow[]> }>();
  for (const conj of dnf) {
    const lo = new Float64Array(inputCount).fill(-Infinity);
    const hi = new Float64Array(inputCount).fill(Infinity);
    const rows: OutputRow[] = [];
    let feasible = true;
    for (const atom of conj) {
      const vars = [...atom.coef].filter(([, c]) => c !== 0);
      const xs = vars.filter(([v]) => declared.get(v) === 'X');
      const ys = vars.filter(([v]) => declared.get(v) === 'Y');
      if (xs.length && ys.length) err('a constraint mixes inputs X and outputs Y, which is not supported', atom);
      if (xs.length > 1) err('only bounds on single inputs are supported for X (found a linear combination of inputs)', atom);
      if (xs.length === 1) {
        const [v, c] = xs[0];
        const i = Number(v.slice(2));
        const bound = -atom.k / c;
        if (c > 0) hi[i] = Math.min(hi[i], bound);
        else lo[i] = Math.max(lo[i], bound);
      } else if (ys.length) {
        const c = new Array<number>(outputCount).fill(0);
        for (const [v, cv] of ys) c[Number(v.slice(2))] = cv + 0; // + 0 turns -0 into 0
        rows.push({ c, d: -atom.k + 0 });
      } else if (atom.k > 0) {
        feasible = false; // a false constant comparison removes the disjunct
      }
    }
    if (!feasible) continue;
    for (let i = 0; i < inputCount; i++) {
      if (lo[i] === -Infinity || hi[i] === Infinity) {
        const at = conj[0] ?? { line: 1, column: 1 };
        err(`input X_${i} has no ${lo[i] === -Infinity ? 'lower' : 'upper'} bound${dnf.length > 1 ? ' in one of the disjuncts' : ''}`, at);
      }
    }
    if (lo.some((l, i) => l > hi[i])) continue; // an empty box cannot violate anything
    const box: InputBox = { lower: Float32Array.from(lo, roundDown32), upper: Float32Array.from(hi, roundUp32) };
    const key = `${Array.from(box.lower).join(',')}|${Array.from(box.upper).join(',')}`;
    const g = groups.get(key) ?? { box, outs: new Map<string, OutputRow[]>() };
    groups.set(key, g);
    g.outs.set(rows.map((r) => `${r.c.join(',')}<=${r.d}`).join(';'), rows);
  }

  const gs = [...groups.values()];
  const outputConstraints = gs.length ? [...gs[0].outs.values()] : [];
  const sig = (g: (typeof gs)[number]) => [...g.outs.keys()].sort().join('||');
  if (gs.some((g) => sig(g) !== sig(gs[0]))) {
    throw new PropertyFormatError(
      'different input boxes carry different output constraints; only properties of the form (OR boxes) AND (OR output conjunctions) are supported',
      file,
      asserts[0]?.line ?? 1,
      asserts[0]?.column ?? 1,
    );
  }
  return { inputCount, outputCount, boxes: gs.map((g) => g.box), outputConstraints };
}

/** Read a .vnnlib file, gunzipping it when it is gzip-compressed (.gz or gzip magic bytes). */
export function loadVnnlib(file: string): VnnlibProperty {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new PropertyFormatError(`cannot read the file: ${(e as Error).message}`, file);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (e) {
      throw new PropertyFormatError(`cannot decompress the gzip data: ${(e as Error).message}`, file);
    }
  } else if (file.endsWith('.gz')) {
    throw new PropertyFormatError('the file ends in .gz but is not gzip data', file);
  }
  return parseVnnlib(bytes.toString('utf8'), file);
}

function addLin(a: Lin, b: Lin, sign: 1 | -1): Lin {
  const coef = new Map(a.coef);
  for (const [v, c] of b.coef) coef.set(v, (coef.get(v) ?? 0) + sign * c);
  return { coef, k: a.k + sign * b.k };
}

function scaleLin(a: Lin, s: number): Lin {
  const coef = new Map<string, number>();
  for (const [v, c] of a.coef) coef.set(v, c * s);
  return { coef, k: a.k * s };
}
