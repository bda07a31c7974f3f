/** byte -> pixel value in [0, 1] (exact division, shared by every uint8-backed split). */
export const BYTE_TO_UNIT: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = v / 255;
  return t;
})();
