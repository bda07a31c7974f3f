import * as tf from '@tensorflow/tfjs-core';
import { ARCHITECTURES, Network, SeededRng } from '@certkd/core';
import { boxAround, specMatrix, ibp, crownIbp } from './index';
it('cnn7 timing', () => {
  const spec = ARCHITECTURES.find((a) => a.name === 'cnn7')!.build({ shape: [32, 32, 3], classes: 10, mean: [0.49, 0.48, 0.45], std: [0.2, 0.2, 0.2] }, { batchnorm: true, hidden: [] });
  const net = Network.create(spec, new SeededRng(1), 'ibp');
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1);
  const box = boxAround(x, 2 / 255);
  const C = specMatrix(tf.tensor1d([1, 2], 'int32'), 10);
  for (const [name, fn] of [['ibp', ibp], ['crownIbp', crownIbp]] as const) {
    const t = Date.now();
    const b = fn(net, box, { spec: C });
    const lo = b.lower.dataSync();
    console.log(name, Date.now() - t, 'ms', lo[0], 'peakish bytes', tf.memory().numBytes);
    tf.dispose([b.lower, b.upper]);
  }
  const t = Date.now();
  const { value, grads } = tf.variableGrads(() => tf.neg(tf.sum(crownIbp(net, box, { spec: C }).lower)) as tf.Scalar);
  console.log('crownIbp+grad', Date.now() - t, 'ms');
  tf.dispose([value, ...Object.values(grads)]);
});
