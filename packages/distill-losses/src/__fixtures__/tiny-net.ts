import * as tf from '@tensorflow/tfjs-core';
import { Attack, FeatureTeacher, LossContext, Network, NetworkSpec, SeededRng } from '@certkd/core';

// A 2-input, 3-hidden, 3-class network with hand-set weights: dense, relu, dense.
export const W1 = [
  [1, -1, 0.5],
  [0.5, 2, -1],
]; // [in=2, hidden=3]
export const B1 = [0.1, -0.2, 0.3];
export const W2 = [
  [1, -1, 0.2],
  [0.3, 0.7, -0.5],
  [-0.4, 0.2, 1],
]; // [hidden=3, K=3]
export const B2 = [0.05, -0.1, 0.2];

export function tinyNet(withBn = false): Network {
  const spec: NetworkSpec = {
    inputShape: [2],
    layers: withBn
      ? [
          { kind: 'dense', units: 3, useBias: true },
          { kind: 'batchnorm', epsilon: 1e-5, momentum: 0.9 },
          { kind: 'relu' },
          { kind: 'tap', name: 'penultimate' },
          { kind: 'dense', units: 3, useBias: true },
        ]
      : [{ kind: 'dense', units: 3, useBias: true }, { kind: 'relu' }, { kind: 'dense', units: 3, useBias: true }],
  };
  const v = new Map<string, tf.Tensor>();
  v.set('layers.0.kernel', tf.tensor2d(W1));
  v.set('layers.0.bias', tf.tensor1d(B1));
  const last = withBn ? 4 : 2;
  v.set(`layers.${last}.kernel`, tf.tensor2d(W2));
  v.set(`layers.${last}.bias`, tf.tensor1d(B2));
  if (withBn) {
    v.set('layers.1.gamma', tf.tensor1d([1.5, 0.5, 1]));
    v.set('layers.1.beta', tf.tensor1d([0.1, -0.1, 0.2]));
    v.set('layers.1.movingMean', tf.tensor1d([0.2, 0.1, -0.1]));
    v.set('layers.1.movingVariance', tf.tensor1d([1.2, 0.8, 1.1]));
  }
  return Network.fromTensors(spec, v);
}

export const X = [
  [0.2, 0.7],
  [0.9, 0.1],
  [0.5, 0.5],
];
export const Y = [0, 1, 2];
// Fixed adversarial inputs inside B(X, 0.1) for the fake attack.
export const XADV = [
  [0.3, 0.6],
  [0.8, 0.2],
  [0.42, 0.58],
];

/** A deterministic attack returning XADV, for pinning losses to hand computation. */
export const fixedAttack: Attack = {
  name: 'fixed',
  run: (_net, _x, _y, box) => ({
    x: tf.tidy(() => tf.minimum(tf.maximum(tf.tensor2d(XADV), box.lower), box.upper)),
    loss: tf.zeros([XADV.length]) as tf.Tensor1D,
  }),
};

export function context(net: Network, eps: number, over: Partial<LossContext> = {}): LossContext {
  return {
    net,
    x: tf.tensor2d(X),
    y: tf.tensor1d(Y, 'int32'),
    eps,
    epsMax: 0.1,
    rng: new SeededRng(7),
    progress: { epoch: 0, step: 0, fraction: 0 },
    ...over,
  };
}

export function disposeContext(ctx: LossContext): void {
  ctx.x.dispose();
  ctx.y.dispose();
}

// ---- plain-number reference for the tiny network without BatchNorm ----

const dense = (h: number[], W: number[][], b: number[]) => b.map((bj, j) => bj + h.reduce((s, hi, i) => s + hi * W[i][j], 0));
export const relu = (v: number[]) => v.map((a) => Math.max(0, a));

export function logitsRef(x: number[]): number[] {
  return dense(relu(dense(x, W1, B1)), W2, B2);
}

/** z_j = f_y - f_j for j != y, in increasing j. */
export function diffsRef(f: number[], y: number): number[] {
  return f.flatMap((fj, j) => (j === y ? [] : [f[y] - fj]));
}

/** Interval bounds of the hidden ReLU outputs over [lo, hi]. */
export function hiddenBoxRef(lo: number[], hi: number[]): { l: number[]; u: number[] } {
  const l: number[] = [];
  const u: number[] = [];
  for (let j = 0; j < 3; j++) {
    let a = B1[j];
    let b = B1[j];
    for (let i = 0; i < 2; i++) {
      const w = W1[i][j];
      a += w >= 0 ? w * lo[i] : w * hi[i];
      b += w >= 0 ? w * hi[i] : w * lo[i];
    }
    l.push(Math.max(0, a));
    u.push(Math.max(0, b));
  }
  return { l, u };
}

/** Elided IBP lower bound of z over [lo, hi]: rows W2[:, y] - W2[:, j] applied to the hidden box. */
export function ibpLowerRef(lo: number[], hi: number[], y: number): number[] {
  const { l, u } = hiddenBoxRef(lo, hi);
  const out: number[] = [];
  for (let j = 0; j < 3; j++) {
    if (j === y) continue;
    let v = B2[y] - B2[j];
    for (let k = 0; k < 3; k++) {
      const c = W2[k][y] - W2[k][j];
      v += c >= 0 ? c * l[k] : c * u[k];
    }
    out.push(v);
  }
  return out;
}

export const lossRef = (v: number[]) => Math.log(1 + v.reduce((s, a) => s + Math.exp(-a), 0));
export const mean = (a: number[]) => a.reduce((s, b) => s + b, 0) / a.length;
export const clip01 = (a: number) => Math.min(1, Math.max(0, a));
export const boxRef = (x: number[], eps: number) => ({ lo: x.map((a) => clip01(a - eps)), hi: x.map((a) => clip01(a + eps)) });

export function ibpLossRef(eps: number): number {
  return mean(X.map((x, n) => lossRef(ibpLowerRef(boxRef(x, eps).lo, boxRef(x, eps).hi, Y[n]))));
}
export function advLossRef(): number {
  return mean(XADV.map((x, n) => lossRef(diffsRef(logitsRef(x), Y[n]))));
}

/** Student features h(x) = relu(x W1 + b1) of the BatchNorm-free fixture. */
export function featuresRef(x: number[]): number[] {
  return relu(B1.map((b, j) => b + x[0] * W1[0][j] + x[1] * W1[1][j]));
}

/** A fake frozen teacher with fixed features and logits (rows follow X). */
export function fixedTeacher(features: number[][], logits: number[][] = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]): FeatureTeacher {
  return {
    name: 'fixed',
    featureWidth: features[0].length,
    features: () => tf.tensor2d(features),
    logits: () => tf.tensor2d(logits),
    dispose: () => undefined,
  };
}

/** A teacher backed by a real network (its variables must receive no gradient). */
export function networkTeacher(net: Network): FeatureTeacher {
  return {
    name: 'net',
    featureWidth: net.widthAt(net.tapIndex('penultimate')),
    features: (x) => net.forward(x, { mode: 'eval', end: net.tapIndex('penultimate') }).output as tf.Tensor2D,
    logits: (x) => net.predict(x),
    dispose: () => net.dispose(),
  };
}
