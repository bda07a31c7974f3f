import * as tf from '@tensorflow/tfjs-core';

/** Padding as tf.conv2d accepts it (explicit padding as NHWC pairs). */
export type ConvPad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
export type RoundingMode = 'floor' | 'round' | 'ceil';

type Pair = [number, number];

function pair(v: number | readonly number[]): Pair {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** Geometry of an NHWC conv with unit dilation (tfjs's own shape rules, so odd sizes match exactly). */
function geometry(inputShape: readonly number[], filterShape: readonly number[], strides: number | readonly number[], pad: ConvPad, rounding?: RoundingMode) {
  const info = tf.backend_util.computeConv2DInfo(
    inputShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    pair(strides),
    1,
    pad,
    rounding,
  );
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    c: info.inChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    o: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

/**
 * Pad (positive amounts) or crop (negative amounts) the two spatial axes of an NHWC tensor;
 * returns the tensor after cropping and the non-negative padding still to apply.
 */
function cropNegative(t: tf.Tensor4D, before: Pair, after: Pair): { t: tf.Tensor4D; pad: [Pair, Pair] } {
  const cropB: Pair = [Math.max(0, -before[0]), Math.max(0, -before[1])];
  const cropA: Pair = [Math.max(0, -after[0]), Math.max(0, -after[1])];
  if (cropB[0] || cropB[1] || cropA[0] || cropA[1]) {
    const [n, h, w, c] = t.shape;
    t = tf.slice(t, [0, cropB[0], cropB[1], 0], [n, h - cropB[0] - cropA[0], w - cropB[1] - cropA[1], c]);
  }
  return {
    t,
    pad: [
      [Math.max(0, before[0]), Math.max(0, after[0])],
      [Math.max(0, before[1]), Math.max(0, after[1])],
    ],
  };
}

/**
 * Gradient of tf.conv2d (NHWC, unit dilation) with respect to its input, equal to
 * tf.conv2dTranspose(dy, w, inputShape, strides, pad) but computed by one stride-1 forward
 * convolution: dy dilated by the stride (zeros between rows and columns), padded so the
 * output has exactly inputShape's size, convolved with the spatially flipped kernel whose
 * in/out channels are swapped. dy: [N, OH, OW, O], w: [KH, KW, C, O], result: inputShape.
 */
export function conv2dInputGrad(
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  inputShape: readonly [number, number, number, number] | readonly number[],
  strides: number | readonly number[],
  pad: ConvPad,
  rounding?: RoundingMode,
): tf.Tensor4D {
  const g = geometry(inputShape, w.shape, strides, pad, rounding);
  if (g.sh > 1 || g.sw > 1) {
    const m = inputGradMethod === 'auto' ? (g.c * g.sh * g.sw <= TAPS_MAX_COLUMNS ? 'taps' : 'phases') : inputGradMethod;
    if (m === 'phases') return phasedInputGrad(dy, w, g);
    if (m === 'taps') return tapsInputGrad(dy, w, g);
  }
  return tf.tidy(() => {
    let d: tf.Tensor4D = dy;
    if (g.sh > 1 || g.sw > 1) {
      // [N, OH, 1, OW, 1, O] padded to [N, OH, sh, OW, sw, O]: row oh lands at oh * sh.
      const six = tf.reshape(dy, [g.n, g.oh, 1, g.ow, 1, g.o]);
      const spread = tf.pad(six, [
        [0, 0],
        [0, 0],
        [0, g.sh - 1],
        [0, 0],
        [0, g.sw - 1],
        [0, 0],
      ]);
      d = tf.reshape(spread, [g.n, g.oh * g.sh, g.ow * g.sw, g.o]);
    }
    // d has oh * sh rows; input row i collects d rows i + top - kh, kh in [0, KH).
    const before: Pair = [g.kh - 1 - g.top, g.kw - 1 - g.left];
    const after: Pair = [g.h + g.top - g.oh * g.sh, g.w + g.left - g.ow * g.sw];
    const { t, pad: p } = cropNegative(d, before, after);
    const wf = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(t, wf, 1, [[0, 0], p[0], p[1], [0, 0]]);
  });
}

type Geometry = ReturnType<typeof geometry>;

/**
 * How conv2dInputGrad handles strides > 1 (all exact). 'auto' (default): 'taps' when the
 * input has few channels (C * sh * sw <= 16, e.g. the first conv of an image network, where
 * XNNPACK convolutions with one or a few output channels are slow), else 'phases'.
 */
export type InputGradMethod = 'auto' | 'dilate' | 'phases' | 'taps';
let inputGradMethod: InputGradMethod = 'auto';
const TAPS_MAX_COLUMNS = 16;

/** Choose the strided input-gradient formulation (benchmarks). */
export function setInputGradMethod(m: InputGradMethod): void {
  inputGradMethod = m;
}

/**
 * Strided input gradient without multiplying by inserted zeros: padded input row
 * p = q * s + r only receives kernel taps kh = r + s * m, so each of the s_h * s_w phases is
 * a stride-1 convolution of dy with a sub-kernel; the phases are then interleaved.
 */
function phasedInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, g: Geometry): tf.Tensor4D {
  return tf.tidy(() => {
    const qh = Math.ceil((g.top + g.h) / g.sh);
    const qw = Math.ceil((g.left + g.w) / g.sw);
    const rows: tf.Tensor[] = [];
    for (let rh = 0; rh < g.sh; rh++) {
      const phases: tf.Tensor4D[] = [];
      for (let rw = 0; rw < g.sw; rw++) {
        const mh = Math.max(0, Math.ceil((g.kh - rh) / g.sh));
        const mw = Math.max(0, Math.ceil((g.kw - rw) / g.sw));
        if (mh === 0 || mw === 0) {
          phases.push(tf.zeros([g.n, qh, qw, g.c]));
          continue;
        }
        const sub = tf.stridedSlice(w, [rh, rw, 0, 0], [g.kh, g.kw, g.c, g.o], [g.sh, g.sw, 1, 1]) as tf.Tensor4D;
        const wf = tf.transpose(tf.reverse(sub, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
        const { t, pad: p } = cropNegative(dy, [mh - 1, mw - 1], [qh - g.oh, qw - g.ow]);
        phases.push(tf.conv2d(t, wf, 1, [[0, 0], p[0], p[1], [0, 0]]));
      }
      // Interleave columns: [N, Q, Q', sw, C] -> [N, Q, Q' * sw, C] (no transpose kernel).
      rows.push(g.sw > 1 ? tf.reshape(tf.stack(phases, 3), [g.n, qh, qw * g.sw, g.c]) : phases[0]);
    }
    const woven = g.sh > 1 ? tf.reshape(tf.stack(rows, 2), [g.n, qh * g.sh, qw * g.sw, g.c]) : rows[0];
    if (g.top === 0 && g.left === 0 && qh * g.sh === g.h && qw * g.sw === g.w) return woven as tf.Tensor4D;
    return tf.slice(woven, [0, g.top, g.left, 0], [g.n, g.h, g.w, g.c]) as tf.Tensor4D;
  });
}

/**
 * Strided input gradient as matrix products (col2im): kernel tap kh = r + s * m sends output
 * row oh to padded input row (oh + m) * s + r, so for each sub-tap (mh, mw) one product of dy
 * ([N*OH*OW, O]) with the [O, sh*sw*C] block of taps gives that sub-tap's contribution to all
 * phases at once; the blocks are shifted by (mh, mw), summed, and the phases interleaved with
 * one rank-5 transpose.
 */
function tapsInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, g: Geometry): tf.Tensor4D {
  return tf.tidy(() => {
    const mh = Math.ceil(g.kh / g.sh);
    const mw = Math.ceil(g.kw / g.sw);
    const qh = g.oh + mh - 1;
    const qw = g.ow + mw - 1;
    const cols = g.sh * g.sw * g.c;
    // [MH*sh, MW*sw, C, O] -> [MH, sh, MW, sw, C, O] -> [O, MH, MW, sh, sw, C]
    const wp = tf.pad(w, [
      [0, mh * g.sh - g.kh],
      [0, mw * g.sw - g.kw],
      [0, 0],
      [0, 0],
    ]);
    const wm = tf.reshape(tf.transpose(tf.reshape(wp, [mh, g.sh, mw, g.sw, g.c, g.o]), [5, 0, 2, 1, 3, 4]), [g.o, mh * mw * cols]);
    const rows = tf.reshape(dy, [g.n * g.oh * g.ow, g.o]) as tf.Tensor2D;
    const parts: tf.Tensor[] = [];
    for (let a = 0; a < mh; a++) {
      for (let b = 0; b < mw; b++) {
        const block = tf.slice(wm, [0, (a * mw + b) * cols], [g.o, cols]) as tf.Tensor2D;
        const p = tf.reshape(tf.matMul(rows, block), [g.n, g.oh, g.ow, cols]);
        parts.push(
          mh === 1 && mw === 1
            ? p
            : tf.pad(p, [
                [0, 0],
                [a, mh - 1 - a],
                [b, mw - 1 - b],
                [0, 0],
              ]),
        );
      }
    }
    const sum = parts.length > 1 ? tf.addN(parts) : parts[0];
    // [N, QH, QW, sh, sw*C] -> [N, QH, sh, QW, sw*C]: padded row p = q * sh + r.
    const woven = tf.reshape(tf.transpose(tf.reshape(sum, [g.n, qh, qw, g.sh, g.sw * g.c]), [0, 1, 3, 2, 4]), [g.n, qh * g.sh, qw * g.sw, g.c]) as tf.Tensor4D;
    const { t, pad: pd } = cropNegative(woven, [-g.top, -g.left], [g.top + g.h - qh * g.sh, g.left + g.w - qw * g.sw]);
    if (pd[0][0] || pd[0][1] || pd[1][0] || pd[1][1]) return tf.pad(t, [[0, 0], pd[0], pd[1], [0, 0]]) as tf.Tensor4D;
    return t;
  });
}

/** Which formulation conv2dFilterGrad uses (both exact; speed differs by backend and shape). */
export type FilterGradMethod = 'conv' | 'matmul';

/**
 * Gradient of tf.conv2d (NHWC, unit dilation) with respect to its filter. x: [N, H, W, C],
 * dy: [N, OH, OW, O], result: filterShape [KH, KW, C, O].
 * 'conv': a stride-1 convolution in which batch and channels swap roles (x as [C, H, W, N],
 * dy as a [OH, OW, N, O] filter dilated by the stride). 'matmul': the KH*KW strided input
 * patches side by side, times dy, in one matrix product.
 */
export function conv2dFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly [number, number, number, number] | readonly number[],
  strides: number | readonly number[],
  pad: ConvPad,
  rounding?: RoundingMode,
  method: FilterGradMethod = 'conv',
): tf.Tensor4D {
  const g = geometry(x.shape, filterShape, strides, pad, rounding);
  return tf.tidy(() => {
    // Rows of the padded input that the forward pass read: [-top, -top + span).
    const spanH = g.kh + (g.oh - 1) * g.sh;
    const spanW = g.kw + (g.ow - 1) * g.sw;
    const { t, pad: p } = cropNegative(x, [g.top, g.left], [spanH - g.h - g.top, spanW - g.w - g.left]);
    if (method === 'conv') {
      const xt = tf.transpose(t, [3, 1, 2, 0]) as tf.Tensor4D; // [C, H', W', N]
      const dyt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [OH, OW, N, O]
      const r = tf.conv2d(xt, dyt, 1, [[0, 0], p[0], p[1], [0, 0]], 'NHWC', [g.sh, g.sw]); // [C, KH, KW, O]
      return tf.transpose(r, [1, 2, 0, 3]) as tf.Tensor4D;
    }
    const xp = p[0][0] || p[0][1] || p[1][0] || p[1][1] ? tf.pad(t, [[0, 0], p[0], p[1], [0, 0]]) : t;
    const cols: tf.Tensor[] = [];
    for (let i = 0; i < g.kh; i++) {
      for (let j = 0; j < g.kw; j++) {
        const s =
          g.sh === 1 && g.sw === 1
            ? tf.slice(xp, [0, i, j, 0], [g.n, g.oh, g.ow, g.c])
            : tf.stridedSlice(xp, [0, i, j, 0], [g.n, i + (g.oh - 1) * g.sh + 1, j + (g.ow - 1) * g.sw + 1, g.c], [1, g.sh, g.sw, 1]);
        cols.push(tf.reshape(s, [g.n * g.oh * g.ow, g.c]));
      }
    }
    const patches = cols.length === 1 ? cols[0] : tf.concat(cols, 1); // [N*OH*OW, KH*KW*C]
    const dw = tf.matMul(patches as tf.Tensor2D, tf.reshape(dy, [g.n * g.oh * g.ow, g.o]) as tf.Tensor2D, true, false);
    return tf.reshape(dw, [g.kh, g.kw, g.c, g.o]) as tf.Tensor4D;
  });
}

/**
 * Gradient of tf.avgPool with 'valid' padding with respect to its input: every window is
 * full, so each output spreads dy / (fh * fw) uniformly over its window. Computed as a
 * stride-1 average pool of dy dilated by the stride and zero-padded to the input size.
 * dy: [N, OH, OW, C], result: inputShape [N, H, W, C].
 */
export function avgPoolValidInputGrad(
  dy: tf.Tensor4D,
  inputShape: readonly number[],
  filterSize: number | readonly number[],
  strides: number | readonly number[],
): tf.Tensor4D {
  const [fh, fw] = pair(filterSize);
  const [sh, sw] = pair(strides);
  const [n, h, w, c] = inputShape;
  const [, oh, ow] = dy.shape;
  return tf.tidy(() => {
    let d: tf.Tensor4D = dy;
    if (sh > 1 || sw > 1) {
      const six = tf.reshape(dy, [n, oh, 1, ow, 1, c]);
      d = tf.reshape(
        tf.pad(six, [
          [0, 0],
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0],
        ]),
        [n, oh * sh, ow * sw, c],
      );
    }
    const { t, pad: p } = cropNegative(d, [fh - 1, fw - 1], [h - oh * sh, w - ow * sw]);
    const padded = tf.pad(t, [[0, 0], p[0], p[1], [0, 0]]);
    return tf.avgPool(padded, [fh, fw], 1, 'valid');
  });
}
