/**
 * Code points beyond ASCII that Unicode counts as white space (plus the byte-order mark), which
 * the VNN-LIB reader must treat as white space: the tests' own list, independent of the reader's.
 */
export const UNICODE_SPACES = [0x85, 0xa0, 0x1680, ...Array.from({ length: 11 }, (_, i) => 0x2000 + i), 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff];
