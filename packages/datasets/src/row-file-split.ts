import * as fs from 'fs';
import type { DataSplit } from '@certkd/core';
import { DataError } from '@certkd/core';
import { BYTE_TO_UNIT } from './pixel-lut';
import { checkIndex, checkLabels } from './uint8-split';

/** A run of fixed-size CHW uint8 image rows inside a file. */
export interface RowSegment {
  file: string;
  /** Byte offset of the first row. */
  offset: number;
  rows: number;
}

/**
 * A split whose CHW uint8 images stay on disk: `read` fetches the requested rows with
 * positioned reads and converts them to HWC float32 in [0, 1]. Labels live in memory.
 */
export class RowFileSplit implements DataSplit {
  readonly size: number;
  private readonly starts: number[] = [];
  private readonly fds = new Map<string, number>();
  private readonly rowBytes: number;

  constructor(
    private readonly segments: RowSegment[],
    private readonly labelArray: Int32Array,
    readonly shape: [number, number, number],
    readonly classes: number,
    where: string,
  ) {
    this.rowBytes = shape[0] * shape[1] * shape[2];
    let s = 0;
    for (const seg of segments) {
      this.starts.push(s);
      s += seg.rows;
      const need = seg.offset + seg.rows * this.rowBytes;
      const have = fs.statSync(seg.file).size;
      if (have < need) throw new DataError(`truncated: ${seg.rows} images need ${need} bytes, file has ${have}`, seg.file);
    }
    this.size = s;
    if (labelArray.length !== s) throw new DataError(`${s} images but ${labelArray.length} labels`, where);
    checkLabels(labelArray, classes, where);
  }

  labels(): Int32Array {
    return this.labelArray.slice();
  }

  read(indices: ArrayLike<number>): { x: Float32Array; y: Int32Array } {
    const [h, w, c] = this.shape;
    const d = this.rowBytes;
    const plane = h * w;
    const x = new Float32Array(indices.length * d);
    const y = new Int32Array(indices.length);
    const row = Buffer.alloc(d);
    for (let k = 0; k < indices.length; k++) {
      const i = checkIndex(indices[k], this.size);
      let s = this.segments.length - 1;
      let lo = 0;
      while (lo < s) {
        const mid = (lo + s + 1) >> 1;
        if (this.starts[mid] <= i) lo = mid;
        else s = mid - 1;
      }
      const seg = this.segments[lo];
      const fd = this.fd(seg.file);
      const pos = seg.offset + (i - this.starts[lo]) * d;
      if (fs.readSync(fd, row, 0, d, pos) !== d) throw new DataError(`short read of image ${i} at byte ${pos}`, seg.file);
      const o = k * d;
      for (let p = 0; p < plane; p++) for (let ch = 0; ch < c; ch++) x[o + p * c + ch] = BYTE_TO_UNIT[row[ch * plane + p]];
      y[k] = this.labelArray[i];
    }
    return { x, y };
  }

  /** Close the file handles opened by `read`. */
  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  private fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) this.fds.set(file, (fd = fs.openSync(file, 'r')));
    return fd;
  }
}
