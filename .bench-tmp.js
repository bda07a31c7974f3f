require('reflect-metadata');
const tf = require('@tensorflow/tfjs'); tf.setBackend('cpu');
const core = require('@certkd/core');
const { registerCertifiedLosses } = require('@certkd/certified-losses');
const { registerDistillLosses } = require('@certkd/distill-losses');
const reg = new core.PluginRegistry(); registerCertifiedLosses(reg); registerDistillLosses(reg);
const arch = core.ARCHITECTURES.find(a => a.name === 'cnn-small');
const spec = arch.build({ shape: [28,28,1], classes: 10, mean: [0], std: [1] }, core.architectureOptions.parse({}));
const net = core.Network.create(spec, new core.SeededRng(1), 'ibp');
const tnet = core.Network.create(spec, new core.SeededRng(2));
const p = tnet.tapIndex('penultimate');
const teacher = { name:'t', featureWidth: tnet.widthAt(p), features: x => tnet.forward(x,{mode:'eval', end:p}).output, logits: x => tnet.predict(x), dispose(){} };
const x = tf.randomUniform([64,28,28,1],0,1,'float32',3); const y = tf.tensor1d(Array.from({length:64},(_, i)=>i%10),'int32');
for (const [kind,name] of [['certified-loss','standard'],['certified-loss','ibp'],['certified-loss','cc-ibp'],['certified-loss','crown-ibp'],['distill-loss','cc-dist']]) {
  const loss = reg.create(kind, name, {});
  const ctx = { net, x, y, eps: 0.05, epsMax: 0.1, rng: new core.SeededRng(1), progress:{epoch:0,step:0,fraction:0}, teacher };
  const times=[]; const n0 = tf.memory().numTensors;
  for (let i=0;i<4;i++){ const t0=performance.now(); const {value,grads}=tf.variableGrads(()=>loss.compute(ctx).total, net.trainableVariables()); value.dataSync(); tf.dispose([value,...Object.values(grads)]); times.push(performance.now()-t0);}
  console.log(name, 'ms/step (batch 64, cnn-small, cpu):', Math.round(Math.min(...times.slice(1))), 'leak', tf.memory().numTensors - n0);
}
