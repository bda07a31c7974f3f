import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { IoError, writeDirAtomic, writeFileAtomic, writeFileSynced } from './atomic';
import { CertkdError, exitCodeOf } from '../errors/errors';

// Spy on the live module object: a namespace import is a copy under SWC's CommonJS interop.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const liveFs = require('fs') as typeof fs;

/** An fs.writeSync that writes at most `chunk` bytes per call and fails with ENOSPC after `capacity` bytes in all. */
function fullDisk(capacity: number, chunk = 4096): jest.SpyInstance {
  const real = liveFs.writeSync;
  let used = 0;
  return jest.spyOn(liveFs, 'writeSync').mockImplementation(((fd: number, buf: Uint8Array, offset?: number | null, length?: number | null) => {
    const off = offset ?? 0;
    const room = Math.min(capacity - used, chunk, length ?? buf.length - off);
    if (room <= 0) {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    }
    const n = real(fd, buf, off, room);
    used += n;
    return n;
  }) as typeof fs.writeSync);
}

const listDir = (d: string) => fs.readdirSync(d).sort();

describe('atomic writes', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-atomic-'))));
  afterEach(() => {
    jest.restoreAllMocks();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes every byte when fs.writeSync writes short counts', () => {
    const file = path.join(dir, 'big.bin');
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) & 255);
    const spy = fullDisk(Infinity, 777);
    writeFileAtomic(file, data);
    expect(spy.mock.calls.length).toBeGreaterThan(100);
    expect(Buffer.compare(fs.readFileSync(file), Buffer.from(data))).toBe(0);
    expect(listDir(dir)).toEqual(['big.bin']);
  });

  it('a full disk throws an IoError (exit 2) naming the path, removes the temp file and keeps the old file', () => {
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, 'old contents');
    fullDisk(8192);
    let err: unknown;
    try {
      writeFileAtomic(file, new Uint8Array(1_319_896));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IoError);
    expect(exitCodeOf(err)).toBe(2);
    expect((err as Error).message).toBe(`${file}: no space left on device (ENOSPC)`);
    expect(fs.readFileSync(file, 'utf8')).toBe('old contents');
    expect(listDir(dir)).toEqual(['model.onnx']);
  });

  it('a write that makes no progress is an error, not an endless loop', () => {
    jest.spyOn(liveFs, 'writeSync').mockReturnValue(0);
    const file = path.join(dir, 'x.txt');
    expect(() => writeFileAtomic(file, 'hello')).toThrow(/x\.txt: short write: only 0 of 5 bytes were written/);
    expect(listDir(dir)).toEqual([]);
  });

  it('a directory in the way fails with "is a directory" before writing anything', () => {
    const target = path.join(dir, 'out.onnx');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'inside'), 'x');
    const spy = jest.spyOn(liveFs, 'writeSync');
    expect(() => writeFileAtomic(target, new Uint8Array(1000))).toThrow(new IoError('is a directory (EISDIR)', target, 'EISDIR'));
    expect(spy).not.toHaveBeenCalled();
    expect(listDir(dir)).toEqual(['out.onnx']);
    expect(listDir(target)).toEqual(['inside']);
  });

  it('a failing fsync or rename removes the temp file and keeps the old file', () => {
    const file = path.join(dir, 'state.json');
    fs.writeFileSync(file, '{"old":true}');
    const fsync = jest.spyOn(liveFs, 'fsyncSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    });
    expect(() => writeFileAtomic(file, '{"new":true}')).toThrow(`${file}: input/output error (EIO)`);
    fsync.mockRestore();
    jest.spyOn(liveFs, 'renameSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('EXDEV'), { code: 'EXDEV' });
    });
    expect(() => writeFileAtomic(file, '{"new":true}')).toThrow(/cannot rename across file systems/);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"old":true}');
    expect(listDir(dir)).toEqual(['state.json']);
  });

  it('writeDirAtomic: a full disk inside fill names the file in the target directory and leaves the old directory intact', () => {
    const target = path.join(dir, 'model');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'weights.bin'), 'old weights');
    fullDisk(10_000);
    let err: unknown;
    try {
      writeDirAtomic(target, (tmp) => {
        writeFileSynced(path.join(tmp, 'model.json'), '{}');
        writeFileSynced(path.join(tmp, 'weights.bin'), new Uint8Array(50_000));
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IoError);
    expect((err as Error).message).toBe(`${path.join(target, 'weights.bin')}: no space left on device (ENOSPC)`);
    expect(listDir(dir)).toEqual(['model']);
    expect(listDir(target)).toEqual(['weights.bin']);
    expect(fs.readFileSync(path.join(target, 'weights.bin'), 'utf8')).toBe('old weights');
  });

  it('writeDirAtomic: raw system errors from fill become IoErrors; CertkdErrors pass through; a file in the way is refused', () => {
    const target = path.join(dir, 'ck');
    expect(() =>
      writeDirAtomic(target, () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }),
    ).toThrow(`${target}: no space left on device (ENOSPC)`);
    const mine = new CertkdError('stop');
    expect(() =>
      writeDirAtomic(target, () => {
        throw mine;
      }),
    ).toThrow(mine);
    expect(listDir(dir)).toEqual([]);
    fs.writeFileSync(target, 'a file');
    expect(() => writeDirAtomic(target, () => undefined)).toThrow(`${target}: exists and is not a directory`);
    expect(fs.readFileSync(target, 'utf8')).toBe('a file');
    expect(listDir(dir)).toEqual(['ck']);
  });

  it('writeDirAtomic replaces an existing directory and fsyncs the new files', () => {
    const target = path.join(dir, 'd');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'stale'), 'x');
    const fsync = jest.spyOn(liveFs, 'fsyncSync');
    writeDirAtomic(target, (tmp) => writeFileSynced(path.join(tmp, 'a.txt'), 'A'));
    expect(listDir(dir)).toEqual(['d']);
    expect(listDir(target)).toEqual(['a.txt']);
    // the file, the temp directory and the parent
    expect(fsync.mock.calls.length).toBeGreaterThanOrEqual(3);
  });
});
