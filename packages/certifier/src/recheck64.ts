import { explicitPadding } from '@certkd/core';
import type { AlphaCertificate } from '@certkd/bounds';
import type { AvgPoolLayer, Conv2DLayer, DenseLayer, Network, NormalizeLayer } from '@certkd/core';

/**
 * Sound float64 re-check of verified claims (docs/verification.md, "Floating point").
 *
 * The float32 bound engine finds certificates; before a box or sub-domain counts as verified,
 * its claim is recomputed here in float64 with a rigorous error bound:
 * - intermediate bounds: interval arithmetic and CROWN backward passes in float64; each bound
 *   is widened outwards by its own rounding error bound, so that every bound used afterwards
 *   contains the true range (the relaxation lines are then valid);
 * - the spec rows: a backward pass with the certificate's free parameters when given (lower
 *   slopes alpha in [0, 1], split multipliers beta >= 0: any such values give a valid bound,
 *   so taking them from the float32 search is sound), else CROWN's slopes;
 * - the error bound of a float64 sum of products of length n is gamma_n = n u / (1 - n u)
 *   (u = 2^-53) times the sum of the absolute values of its terms (Higham, Accuracy and
 *   Stability of Numerical Algorithms, 3.1-3.5). The absolute terms of any bound of neuron j
 *   of layer k are at most (k' + 3) m_k(j), with m_k the magnitude bound |W_k| m_{k-1} + |b_k|
 *   carried from max(|lo|, |hi|) of the box through the layers, zero after a ReLU that is
 *   inactive on the whole box, and k' the number of ReLU layers below (each adds intercepts of
 *   at most m); a constant computed from several terms (BatchNorm's shift beta - mean * s)
 *   counts with the sum of its terms' absolute values, since they may cancel; the length n
 *   bounds the roundings along any path: the box dimension, every affine layer's fan-in and
 *   twice its width (the backward coefficient sums and the running bias sum), twice every
 *   element-wise layer's width, and a few element-wise steps. Every error bound is doubled
 *   for safety.
 * A claim is confirmed when the float64 lower bound minus its error bound exceeds d.
 * Convolutions and average pools are expanded into their (sparse) affine matrices, eval-mode
 * BatchNorm into its per-channel scale and shift (gamma / sqrt(var + eps), beta - mean * scale,
 * computed in float64); for such networks the intermediate bounds are interval arithmetic only
 * (a CROWN pass per unstable neuron through expanded convolutions costs seconds per box), so a
 * claim that needed tighter intermediate bounds is refused and the search goes on. Networks with
 * other layers, or an expansion over MAX_EXPANDED entries, are not re-checked here.
 */

type Op =
  | { kind: 'affine'; nIn: number; nOut: number; rows: Rows; b: Float64Array }
  | { kind: 'scale'; n: number; s: Float64Array; t: Float64Array; tAbs: Float64Array }
  | { kind: 'relu'; n: number; q: number; layer: number };

/**
 * An affine map's weights by output (compressed rows): output j's terms are val[k] * x[idx[k]]
 * for k in [start[j], start[j + 1]), inputs ascending. Dense layers keep every weight (so their
 * sums run as before); expanded convolutions and pools only the entries of each receptive field.
 */
interface Rows {
  start: Int32Array;
  idx: Int32Array;
  val: Float64Array;
}

/** Rows of a dense kernel laid out [nIn x nOut] (entry i * nOut + j). */
function denseRows(W: ArrayLike<number>, nIn: number, nOut: number): Rows {
  const start = new Int32Array(nOut + 1);
  const idx = new Int32Array(nIn * nOut);
  const val = new Float64Array(nIn * nOut);
  for (let j = 0, k = 0; j < nOut; j++) {
    start[j] = k;
    for (let i = 0; i < nIn; i++, k++) {
      idx[k] = i;
      val[k] = W[i * nOut + j];
    }
  }
  start[nOut] = nIn * nOut;
  return { start, idx, val };
}

const U64 = 2 ** -53;
/** Most weight entries a convolution or pool is expanded into (its receptive fields): 50M = 600 MB. */
export const MAX_EXPANDED = 50_000_000;
const gamma64 = (n: number) => (n * U64) / (1 - n * U64);

export interface Bounds64 {
  /** Sound bounds of each ReLU's input (widened by their error bound), by ReLU index q. */
  lower: Float64Array[];
  upper: Float64Array[];
  /** Magnitude bounds of each op's input, by op index. */
  mag: Float64Array[];
}

/** The certificate's free parameters for one spec row, per ReLU index q ([width] each), optional. */
export interface RowCertificate {
  alpha?: (Float32Array | Float64Array | undefined)[];
  beta?: (Float32Array | Float64Array | undefined)[];
  /** Split signs per ReLU index (the beta terms' s), needed with beta. */
  signs?: (Int8Array | undefined)[];
}

export class Net64 {
  private constructor(
    readonly ops: Op[],
    readonly inputSize: number,
    readonly outputSize: number,
    readonly reluCount: number,
    /** Whether intermediate bounds take a CROWN pass per unstable neuron (networks without expanded layers). */
    readonly crownIntermediate: boolean,
  ) {}

  /**
   * The float64 form of `net`, or null when it has a layer the re-check does not cover. Cached
   * per network while its parameters keep their storage (an assign gives a variable new storage,
   * so changed weights are never re-checked against an old copy).
   */
  static from(net: Network): Net64 | null {
    const ids = net.namedParams().map(([, v]) => (v as unknown as { dataId: object }).dataId);
    const hit = CACHE.get(net);
    if (hit && hit.ids.length === ids.length && hit.ids.every((d, k) => d === ids[k])) return hit.net64;
    const net64 = Net64.build(net);
    CACHE.set(net, { ids, net64 });
    return net64;
  }

  private static build(net: Network): Net64 | null {
    const ops: Op[] = [];
    let q = 0;
    let expanded = false;
    for (let i = 0; i < net.layers.length; i++) {
      const layer = net.layers[i];
      const nIn = net.widthAt(i);
      switch (layer.kind) {
        case 'conv2d':
        case 'avgpool': {
          const op = layer.kind === 'conv2d' ? expandConv(net, i, layer as Conv2DLayer) : expandPool(net, i, layer as AvgPoolLayer);
          if (!op) return null;
          ops.push(op);
          expanded = true;
          break;
        }
        case 'batchnorm': {
          // channels last: the channel is the fastest index; tAbs counts the shift's terms, not
          // its value (beta and mean * s may cancel, and the rounding error of t scales with them)
          const bn = net.bnAffine64(i);
          const C = bn.scale.length;
          const s = new Float64Array(nIn);
          const t = new Float64Array(nIn);
          const tAbs = new Float64Array(nIn);
          for (let k = 0; k < nIn; k++) {
            s[k] = bn.scale[k % C];
            t[k] = bn.shift[k % C];
            tAbs[k] = bn.shiftTerms[k % C];
          }
          ops.push({ kind: 'scale', n: nIn, s, t, tAbs });
          break;
        }
        case 'flatten':
        case 'tap':
          break;
        case 'normalize': {
          const l = layer as NormalizeLayer;
          const C = l.mean.length;
          const s = new Float64Array(nIn);
          const t = new Float64Array(nIn);
          for (let k = 0; k < nIn; k++) {
            // y = (x - mean) / std as x * (1/std) - mean/std, with the stored (float64) constants:
            // the claims are about the network in real arithmetic with its parameters as stored
            // (docs/verification.md); each constant here is within one rounding of the real one
            s[k] = 1 / l.std[k % C];
            t[k] = -l.mean[k % C] / l.std[k % C];
          }
          ops.push({ kind: 'scale', n: nIn, s, t, tAbs: Float64Array.from(t, Math.abs) });
          break;
        }
        case 'dense': {
          const l = layer as DenseLayer;
          const nOut = l.units;
          const rows = denseRows(net.param(i, 'kernel').dataSync(), nIn, nOut);
          const b = l.useBias ? Float64Array.from(net.param(i, 'bias').dataSync()) : new Float64Array(nOut);
          ops.push({ kind: 'affine', nIn, nOut, rows, b });
          break;
        }
        case 'relu':
          ops.push({ kind: 'relu', n: nIn, q: q++, layer: i });
          break;
        default:
          return null;
      }
    }
    return new Net64(ops, net.widthAt(0), net.widthAt(net.layers.length), q, !expanded);
  }

  /**
   * An upper bound on the number of roundings along any path of a bound's computation: the
   * forward interval sums (an affine layer's fan-in nIn), a backward pass's coefficient sums (up
   * to nOut terms each), its one running bias sum (every layer's nOut or n bias, shift and
   * intercept terms) and the concretisation over the box (its dimension), plus a few element-wise
   * steps per layer (constants, products, slopes).
   */
  private chainLength(): number {
    let n = this.inputSize + 8;
    for (const op of this.ops) n += (op.kind === 'affine' ? op.nIn + 2 * op.nOut : 2 * op.n) + 8;
    return n;
  }

  /**
   * Backward pass of row A (over the input of op `from`) to the input, concretised over the
   * box; uses `lower`/`upper` (sound) for the ReLUs and the certificate's alpha/beta if given.
   */
  private backward(
    A0: Float64Array,
    from: number,
    lo: Float64Array,
    hi: Float64Array,
    lower: Float64Array[],
    upper: Float64Array[],
    cert?: RowCertificate,
  ): number {
    let A = A0;
    let bias = 0;
    for (let o = from - 1; o >= 0; o--) {
      const op = this.ops[o];
      if (op.kind === 'affine') {
        const next = new Float64Array(op.nIn);
        const { b, nOut } = op;
        const { start, idx, val } = op.rows;
        for (let j = 0; j < nOut; j++) {
          const a = A[j];
          if (a === 0) continue;
          bias += a * b[j];
          for (let k = start[j]; k < start[j + 1]; k++) next[idx[k]] += a * val[k];
        }
        A = next;
      } else if (op.kind === 'scale') {
        const next = new Float64Array(op.n);
        for (let k = 0; k < op.n; k++) {
          next[k] = A[k] * op.s[k];
          bias += A[k] * op.t[k];
        }
        A = next;
      } else {
        const l = lower[op.q];
        const u = upper[op.q];
        const alpha = cert?.alpha?.[op.q];
        const beta = cert?.beta?.[op.q];
        const next = new Float64Array(op.n);
        for (let k = 0; k < op.n; k++) {
          const a = A[k];
          if (u[k] <= 0) next[k] = 0;
          else if (l[k] >= 0) next[k] = a;
          else if (a >= 0) {
            const al = alpha ? Math.min(1, Math.max(0, alpha[k])) : u[k] > -l[k] ? 1 : 0;
            next[k] = a * al;
          } else {
            const s = u[k] / (u[k] - l[k]);
            next[k] = a * s;
            bias += a * (-s * l[k]);
          }
        }
        // split multipliers: the term -beta * sign * z on the ReLU's input (sound on the sub-domain)
        if (beta) {
          const sgn = cert?.signs?.[op.q];
          if (sgn) for (let k = 0; k < op.n; k++) if (sgn[k] !== 0 && beta[k] > 0) next[k] -= beta[k] * sgn[k];
        }
        A = next;
      }
    }
    let v = bias;
    for (let i = 0; i < A.length; i++) v += A[i] >= 0 ? A[i] * lo[i] : A[i] * hi[i];
    return v;
  }

  /**
   * Sound bounds of every ReLU's input over the box: interval arithmetic, then a CROWN pass for
   * the neurons whose interval contains 0, each widened by its rounding error bound. `clamp`
   * (per ReLU index, +1 active: z >= 0, -1 inactive: z <= 0) restricts to a sub-domain;
   * `root` bounds are intersected when given (valid for every sub-domain of the same box).
   * Returns null when the sub-domain is empty (some lower bound exceeds its upper bound).
   */
  bounds(
    lo: Float64Array,
    hi: Float64Array,
    opts: { clamp?: (Int8Array | undefined)[]; root?: Bounds64; crown?: boolean; alpha?: AlphaCertificate; check?: () => void } = {},
  ): Bounds64 | null {
    const g = gamma64(this.chainLength());
    let mag = new Float64Array(this.inputSize);
    for (let i = 0; i < this.inputSize; i++) mag[i] = Math.max(Math.abs(lo[i]), Math.abs(hi[i]));
    let l = Float64Array.from(lo);
    let u = Float64Array.from(hi);
    const lower: Float64Array[] = [];
    const upper: Float64Array[] = [];
    const mags: Float64Array[] = [];
    let relusBelow = 0;
    for (let o = 0; o < this.ops.length; o++) {
      const op = this.ops[o];
      mags.push(mag);
      if (op.kind === 'affine') {
        const { b, nIn, nOut } = op;
        const { start, idx, val } = op.rows;
        const nl = new Float64Array(nOut);
        const nu = new Float64Array(nOut);
        const nm = new Float64Array(nOut);
        for (let j = 0; j < nOut; j++) {
          let sl = b[j];
          let su = b[j];
          let sm = Math.abs(b[j]);
          for (let k = start[j]; k < start[j + 1]; k++) {
            const i = idx[k];
            const w = val[k];
            if (w >= 0) {
              sl += w * l[i];
              su += w * u[i];
            } else {
              sl += w * u[i];
              su += w * l[i];
            }
            sm += Math.abs(w) * mag[i];
          }
          nl[j] = sl;
          nu[j] = su;
          nm[j] = sm * (1 + 2 * gamma64(nIn + 1));
        }
        l = nl;
        u = nu;
        mag = nm;
      } else if (op.kind === 'scale') {
        const nl = new Float64Array(op.n);
        const nu = new Float64Array(op.n);
        const nm = new Float64Array(op.n);
        for (let k = 0; k < op.n; k++) {
          const a = l[k] * op.s[k] + op.t[k];
          const c = u[k] * op.s[k] + op.t[k];
          nl[k] = Math.min(a, c);
          nu[k] = Math.max(a, c);
          nm[k] = (Math.abs(op.s[k]) * mag[k] + op.tAbs[k]) * (1 + 4 * U64);
        }
        l = nl;
        u = nu;
        mag = nm;
      } else {
        // this ReLU's input bounds: interval bounds, CROWN where unstable, widened, intersected, clamped
        const err = 2 * g * (relusBelow + 3);
        const L = new Float64Array(op.n);
        const Uu = new Float64Array(op.n);
        for (let k = 0; k < op.n; k++) {
          const e = err * mag[k];
          L[k] = l[k] - e;
          Uu[k] = u[k] + e;
        }
        if (opts.root) {
          const rl = opts.root.lower[op.q];
          const ru = opts.root.upper[op.q];
          for (let k = 0; k < op.n; k++) {
            if (rl[k] > L[k]) L[k] = rl[k];
            if (ru[k] < Uu[k]) Uu[k] = ru[k];
          }
        }
        // Neuron k's bounds by a backward pass from it (CROWN's slopes, or the given ones for its
        // lower and upper bound), widened by their error bound and intersected; only while unstable.
        const e = new Float64Array(op.n);
        const tighten = (k: number, t: number, lowCert?: RowCertificate, upCert?: RowCertificate) => {
          if (!(L[k] < 0 && Uu[k] > 0)) return;
          if ((t & 7) === 0) opts.check?.(); // abandon (throw) when the time budget is spent
          e.fill(0);
          e[k] = 1;
          const lb = this.backward(e, o, lo, hi, lower, upper, lowCert) - err * mag[k];
          e[k] = -1;
          const ub = -this.backward(e, o, lo, hi, lower, upper, upCert) + err * mag[k];
          if (lb > L[k]) L[k] = lb;
          if (ub < Uu[k]) Uu[k] = ub;
        };
        if ((opts.crown ?? this.crownIntermediate) && !opts.root) for (let k = 0; k < op.n; k++) tighten(k, k);
        // alpha-CROWN's optimised bounds of this layer, recomputed from its slopes
        const ic = opts.alpha?.intermediate.find((x) => x.layer === op.layer);
        if (ic) {
          for (let t = 0; t < ic.neurons.length; t++) tighten(ic.neurons[t], t, { alpha: this.slopeRow(ic.lower, t) }, { alpha: this.slopeRow(ic.upper, t) });
        }
        const c = opts.clamp?.[op.q];
        if (c) {
          for (let k = 0; k < op.n; k++) {
            if (c[k] > 0 && L[k] < 0) L[k] = 0;
            else if (c[k] < 0 && Uu[k] > 0) Uu[k] = 0;
          }
        }
        for (let k = 0; k < op.n; k++) if (L[k] > Uu[k]) return null; // no input in the sub-domain
        lower.push(L);
        upper.push(Uu);
        const nl = new Float64Array(op.n);
        const nu = new Float64Array(op.n);
        const nm = new Float64Array(op.n);
        for (let k = 0; k < op.n; k++) {
          nl[k] = Math.max(0, L[k]);
          nu[k] = Math.max(0, Uu[k]);
          nm[k] = Uu[k] <= 0 ? 0 : mag[k]; // inactive on the whole (sub-)box: exactly 0 after the ReLU
        }
        l = nl;
        u = nu;
        mag = nm;
        relusBelow++;
      }
    }
    mags.push(mag);
    return { lower, upper, mag: mags };
  }

  /**
   * Row t of alpha-CROWN slopes given per network layer index ([rows * width] each), as the
   * per-ReLU-index arrays of a RowCertificate.
   */
  slopeRow(byLayer: Map<number, Float32Array>, t: number): (Float32Array | undefined)[] {
    const out: (Float32Array | undefined)[] = new Array(this.reluCount).fill(undefined);
    for (const op of this.ops) {
      if (op.kind !== 'relu') continue;
      const s = byLayer.get(op.layer);
      if (s) out[op.q] = s.subarray(t * op.n, (t + 1) * op.n);
    }
    return out;
  }

  /**
   * Sound lower bounds of c_r·y for the rows (each over the outputs) on a box or sub-domain
   * with the given bounds: the float64 backward pass minus its error bound. `certs[r]` are the
   * row's free parameters from the float32 search (optional).
   */
  rowLower(rows: ArrayLike<number>[], lo: Float64Array, hi: Float64Array, b: Bounds64, certs?: (RowCertificate | undefined)[]): number[] {
    const g = gamma64(this.chainLength() + this.outputSize);
    const mOut = b.mag[this.ops.length];
    return rows.map((c, r) => {
      let absSum = 0;
      for (let j = 0; j < this.outputSize; j++) absSum += Math.abs(c[j]) * mOut[j];
      let betaMass = 0;
      const cert = certs?.[r];
      if (cert?.beta) {
        // beta terms add -beta*s*z at a ReLU input: their absolute terms are at most beta * (k'+3) m
        this.ops.forEach((op, o) => {
          if (op.kind !== 'relu') return;
          const be = cert.beta?.[op.q];
          if (!be) return;
          const m = b.mag[o];
          for (let k = 0; k < op.n; k++) if (be[k] > 0) betaMass += be[k] * m[k] * (op.q + 3);
        });
      }
      const v = this.backward(Float64Array.from(c), this.ops.length, lo, hi, b.lower, b.upper, cert);
      // plus 2u |c| m: the row's coefficients are within one rounding of the property's (decimal) ones
      return v - 2 * g * ((this.reluCount + 3) * absSum + betaMass) - 2 * U64 * absSum;
    });
  }
}

const CACHE = new WeakMap<Network, { ids: object[]; net64: Net64 | null }>();

/** An [H, W, C] -> [H', W', C'] layer as an affine op with one row per output (its receptive field), NHWC flat order; null when too large. */
function expandWindowed(
  inShape: number[],
  outShape: number[],
  kernel: [number, number],
  strides: [number, number],
  pad: [[number, number], [number, number]],
  weight: (dh: number, dw: number, c: number, f: number) => number,
  bias: (f: number) => number,
  depthwise: boolean,
): Op | null {
  const [H, W, C] = inShape;
  const [Ho, Wo, F] = outShape;
  const perOutput = kernel[0] * kernel[1] * (depthwise ? 1 : C);
  const nOut = Ho * Wo * F;
  if (nOut * perOutput > MAX_EXPANDED) return null;
  const start = new Int32Array(nOut + 1);
  const idx = new Int32Array(nOut * perOutput);
  const val = new Float64Array(nOut * perOutput);
  const b = new Float64Array(nOut);
  let k = 0;
  for (let oh = 0; oh < Ho; oh++)
    for (let ow = 0; ow < Wo; ow++)
      for (let f = 0; f < F; f++) {
        const j = (oh * Wo + ow) * F + f;
        start[j] = k;
        b[j] = bias(f);
        for (let dh = 0; dh < kernel[0]; dh++) {
          const ih = oh * strides[0] - pad[0][0] + dh;
          if (ih < 0 || ih >= H) continue;
          for (let dw = 0; dw < kernel[1]; dw++) {
            const iw = ow * strides[1] - pad[1][0] + dw;
            if (iw < 0 || iw >= W) continue;
            for (let c = depthwise ? f : 0; c < (depthwise ? f + 1 : C); c++) {
              idx[k] = (ih * W + iw) * C + c;
              val[k++] = weight(dh, dw, c, f);
            }
          }
        }
      }
  start[nOut] = k;
  return { kind: 'affine', nIn: H * W * C, nOut, rows: { start, idx: idx.subarray(0, k), val: val.subarray(0, k) }, b };
}

function expandConv(net: Network, i: number, layer: Conv2DLayer): Op | null {
  const inShape = net.shapes[i];
  const K = net.param(i, 'kernel').dataSync(); // [kh, kw, cin, F]
  const bias = layer.useBias ? net.param(i, 'bias').dataSync() : undefined;
  const [, kw] = layer.kernelSize;
  const C = inShape[2];
  const F = layer.filters;
  return expandWindowed(
    inShape,
    net.shapes[i + 1],
    layer.kernelSize,
    layer.strides,
    explicitPadding(layer, inShape),
    (dh, dw, c, f) => K[((dh * kw + dw) * C + c) * F + f],
    (f) => (bias ? bias[f] : 0),
    false,
  );
}

function expandPool(net: Network, i: number, layer: AvgPoolLayer): Op | null {
  const w = 1 / (layer.poolSize[0] * layer.poolSize[1]);
  return expandWindowed(
    net.shapes[i],
    net.shapes[i + 1],
    layer.poolSize,
    layer.strides,
    [
      [0, 0],
      [0, 0],
    ],
    () => w,
    () => 0,
    true,
  );
}
