import * as tf from '@tensorflow/tfjs-core';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export interface AdamState {
  step: number;
  /** First and second moments per variable, in variable order. */
  m: Float32Array[];
  v: Float32Array[];
}

/**
 * Adam (Kingma and Ba) with bias correction, as in PyTorch's torch.optim.Adam. Its state is
 * plain arrays so a checkpoint restores it exactly.
 */
export class Adam {
  private m: tf.Variable[];
  private v: tf.Variable[];
  step = 0;

  constructor(
    private readonly vars: tf.Variable[],
    readonly config: AdamConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
  ) {
    const slot = (x: tf.Variable) => {
      const z = tf.zerosLike(x);
      const v = tf.variable(z, false);
      z.dispose();
      return v;
    };
    this.m = vars.map(slot);
    this.v = vars.map(slot);
  }

  /** Apply one update with learning rate `lr`; grads in variable order. */
  apply(grads: tf.Tensor[], lr: number): void {
    this.step++;
    const { beta1, beta2, epsilon } = this.config;
    const bc1 = 1 - Math.pow(beta1, this.step);
    const bc2 = 1 - Math.pow(beta2, this.step);
    tf.tidy(() => {
      this.vars.forEach((x, i) => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.m[i], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[i], beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), epsilon);
        x.assign(tf.sub(x, tf.mul(tf.div(m, denom), lr / bc1)));
      });
    });
  }

  getState(): AdamState {
    return { step: this.step, m: this.m.map((t) => t.dataSync() as Float32Array), v: this.v.map((t) => t.dataSync() as Float32Array) };
  }

  setState(s: AdamState): void {
    if (s.m.length !== this.m.length) throw new Error(`optimiser state has ${s.m.length} slots, expected ${this.m.length}`);
    this.step = s.step;
    tf.tidy(() => {
      this.m.forEach((t, i) => t.assign(tf.tensor(s.m[i], t.shape)));
      this.v.forEach((t, i) => t.assign(tf.tensor(s.v[i], t.shape)));
    });
  }

  dispose(): void {
    [...this.m, ...this.v].forEach((t) => t.dispose());
  }
}

/** Scale gradients so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const norm = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))));
  const n = (norm.dataSync() as Float32Array)[0];
  norm.dispose();
  if (!(maxNorm > 0) || n <= maxNorm || !Number.isFinite(n)) return { grads, norm: n };
  const s = maxNorm / (n + 1e-6);
  return { grads: grads.map((g) => tf.mul(g, s)), norm: n };
}

/** Step learning-rate decay: lr * factor^(number of milestones passed at this epoch). */
export function stepLr(base: number, epoch: number, milestones: number[], factor: number): number {
  return base * Math.pow(factor, milestones.filter((m) => epoch >= m).length);
}
