import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, loadModel, type FeatureTeacher, type Network } from '@certkd/core';
import { loadOnnx } from '@certkd/interop';

export interface LoadTeacherOptions {
  /** Feature tap (default 'penultimate': the input of the last dense layer). */
  tap?: string;
  /** Name reported in events and logs (default: the file name, or 'teacher'). */
  name?: string;
}

/**
 * Runs fn(x) with BatchNorm in eval mode inside a custom-gradient op whose gradient is zero:
 * the teacher's operations are not recorded on any enclosing gradient tape, so the student's
 * tf.variableGrads neither differentiates nor stores them.
 */
function frozenCall(fn: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((xi: tf.Tensor) => ({ value: fn(xi), gradFunc: () => tf.zerosLike(xi) })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x);
}

/** A frozen network serving features at a tap and logits (pixel-space inputs, NHWC). */
export class NetworkTeacher implements FeatureTeacher {
  readonly featureWidth: number;
  readonly tapIndex: number;

  /** Takes ownership of `net` and marks all its variables non-trainable. */
  constructor(
    readonly net: Network,
    readonly name: string,
    readonly tap = 'penultimate',
  ) {
    this.tapIndex = net.tapIndex(tap);
    this.featureWidth = net.widthAt(this.tapIndex);
    for (const [, v] of net.namedParams()) v.trainable = false;
  }

  /** Features [N, d] at the tap, eval mode, zero gradient. */
  features(x: tf.Tensor): tf.Tensor2D {
    this.checkInput(x);
    const n = x.shape[0];
    return frozenCall((xi) => tf.reshape(this.net.forward(xi, { mode: 'eval', end: this.tapIndex }).output, [n, this.featureWidth]), x) as tf.Tensor2D;
  }

  /** Logits [N, K], eval mode, zero gradient. */
  logits(x: tf.Tensor): tf.Tensor2D {
    this.checkInput(x);
    return frozenCall((xi) => this.net.predict(xi), x) as tf.Tensor2D;
  }

  dispose(): void {
    this.net.dispose();
  }

  private checkInput(x: tf.Tensor): void {
    const want = this.net.inputShape;
    if (x.rank !== want.length + 1 || want.some((d, i) => x.shape[i + 1] !== d)) {
      throw new ConfigError(`teacher '${this.name}' expects inputs [N, ${want.join(', ')}], got [${x.shape.join(', ')}]`, undefined, 'teacher');
    }
  }
}

/**
 * Load a frozen teacher from a CertKD model directory (or its model.json), an ONNX file
 * (*.onnx), or a Network (which is copied; the caller keeps its own).
 */
export function loadTeacher(source: string | Network, opts: LoadTeacherOptions = {}): NetworkTeacher {
  if (typeof source !== 'string') return new NetworkTeacher(source.clone(), opts.name ?? 'teacher', opts.tap);
  const net = source.toLowerCase().endsWith('.onnx') ? loadOnnx(source) : loadModel(source).network;
  try {
    return new NetworkTeacher(net, opts.name ?? path.basename(source.replace(/[\\/]model\.json$/, '')), opts.tap);
  } catch (e) {
    net.dispose();
    if (e instanceof ConfigError) throw new ConfigError(e.message, source, 'tap');
    throw e;
  }
}
