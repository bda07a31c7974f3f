export { linfBox, linfBoxFlat, disposeBox, clipToBox, halfWidth, uniformInBox } from './box';
export { exactBinary, nextDown32, nextUp32, roundDown32, roundUp32, sumDown32, sumUp32, twoSumError } from './float32-round';
export { detach, detachStats } from './detach';
export { crossEntropyPerSample } from './cross-entropy';
export { selectRows, BestTracker } from './rows';
export { signedGradientAscent, valueAndInputGrad } from './signed-ascent';
export type { AscentStart, AscentResult, SignedAscentOptions } from './signed-ascent';
