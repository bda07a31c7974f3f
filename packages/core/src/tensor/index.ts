export { linfBox, linfBoxFlat, disposeBox, clipToBox, halfWidth, uniformInBox } from './box';
export { detach, detachStats } from './detach';
export { crossEntropyPerSample } from './cross-entropy';
export { selectRows, BestTracker } from './rows';
export { signedGradientAscent, valueAndInputGrad } from './signed-ascent';
export type { AscentStart, AscentResult, SignedAscentOptions } from './signed-ascent';
