// Test plugin: a loss that works on worker 0 and throws on worker 1 before its first exchange,
// so worker 0 is left waiting at the collective's barrier until worker 1's failure releases it.
const { z } = require('zod');
const tf = require('@tensorflow/tfjs-core');
const { batchMean, currentCollective, pluginRegistry } = require('@certkd/core');

exports.register = (container) =>
  pluginRegistry(container).register(
    {
      kind: 'certified-loss',
      name: 'fails-on-rank-1',
      description: 'test loss that fails in worker 1',
      options: z.object({}),
      create: () => ({
        name: 'fails-on-rank-1',
        compute(ctx) {
          if (currentCollective()?.rank === 1) throw new Error('deliberate failure in worker 1');
          const total = batchMean(tf.sum(tf.square(ctx.net.predict(ctx.x)), 1));
          return { total, parts: {} };
        },
      }),
    },
    'test',
  );
