import { PropertyFormatError } from '@certkd/core';

/** An S-expression node with its 1-based source position. */
export type SExpr = { kind: 'atom'; text: string; line: number; column: number } | { kind: 'list'; items: SExpr[]; line: number; column: number };

/**
 * Deepest parenthesis nesting accepted. Real VNN-LIB files nest a handful of levels; the
 * limit keeps the recursive formula reader far from the stack limit (also in worker threads).
 */
export const MAX_NESTING = 1000;

/** Options of the readers. */
export interface ParseOptions {
  /**
   * Called now and then while reading (every few thousand characters or nodes); throw from it
   * to abandon the parse, e.g. when a time budget is spent. The error propagates unchanged.
   */
  interrupt?: () => void;
}

/** Characters between interrupt() calls while tokenising. */
const INTERRUPT_EVERY = 1 << 16;

/**
 * Whitespace: the SMT-LIB four (space, tab, LF, CR) and every other Unicode whitespace
 * character (VT, FF, NEL U+0085, NBSP U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000 and the byte-order mark U+FEFF), so files saved by unusual editors still
 * read. Only LF starts a new line for positions.
 */
export function isVnnlibSpace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0x85) return false;
  return (
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/** Printable ASCII (what VNN-LIB symbols and numbers are made of). */
const isPrintableAscii = (code: number) => code > 0x20 && code < 0x7f;

/** `U+XXXX` for a message. */
const codePoint = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Text for a message: at most `max` characters, anything but printable ASCII written as
 * \uXXXX, so that a message always stays on one line.
 */
export function showText(text: string, max = 40): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const shown = cut.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return text.length > max ? `${shown}...` : shown;
}

/**
 * Parse SMT-LIB style text ('; comments', parentheses, atoms, |quoted symbols|) into
 * top-level S-expressions. Iterative, linear in the text length. Refused with a
 * PropertyFormatError at file:line:column: unbalanced parentheses, nesting deeper than
 * MAX_NESTING, and, outside comments, control characters and non-ASCII characters other than
 * whitespace (see isVnnlibSpace).
 */
export function parseSExprs(text: string, file?: string, opts: ParseOptions = {}): SExpr[] {
  const top: SExpr[] = [];
  const stack: Extract<SExpr, { kind: 'list' }>[] = [];
  let line = 1;
  let col = 1;
  let i = 0;
  let nextCheck = INTERRUPT_EVERY;
  const n = text.length;
  const add = (e: SExpr) => (stack.length ? stack[stack.length - 1].items.push(e) : top.push(e));
  const refuse = (code: number): never => {
    const what = code < 0x20 || (code >= 0x7f && code <= 0x9f) ? 'control character' : 'non-ASCII character';
    const hint = code === 0xfffd ? ' (the file is not UTF-8 text)' : ' (VNN-LIB symbols and numbers are ASCII)';
    throw new PropertyFormatError(`unexpected ${what} ${codePoint(code)}${hint}`, file, line, col);
  };
  while (i < n) {
    if (i >= nextCheck) {
      opts.interrupt?.();
      nextCheck = i + INTERRUPT_EVERY;
    }
    const code = text.charCodeAt(i);
    if (code === 0x0a) {
      line++;
      col = 1;
      i++;
      continue;
    }
    if (isVnnlibSpace(code)) {
      i++;
      col++;
      continue;
    }
    if (code === 0x3b /* ; */) {
      while (i < n && text.charCodeAt(i) !== 0x0a) i++;
      continue;
    }
    if (code === 0x28 /* ( */) {
      if (stack.length >= MAX_NESTING) throw new PropertyFormatError(`parentheses nested deeper than ${MAX_NESTING} levels`, file, line, col);
      stack.push({ kind: 'list', items: [], line, column: col });
      i++;
      col++;
      continue;
    }
    if (code === 0x29 /* ) */) {
      const done = stack.pop();
      if (!done) throw new PropertyFormatError("unbalanced ')'", file, line, col);
      add(done);
      i++;
      col++;
      continue;
    }
    if (code === 0x7c /* | */) {
      // quoted symbol |...|: any printable ASCII or whitespace but '|'
      const start = i;
      const l0 = line;
      const c0 = col;
      i++;
      col++;
      for (; i < n; i++, col++) {
        const c = text.charCodeAt(i);
        if (c === 0x7c) break;
        if (c === 0x0a) {
          line++;
          col = 0;
        } else if (!isPrintableAscii(c) && !isVnnlibSpace(c)) refuse(c);
      }
      if (i >= n) throw new PropertyFormatError("unterminated '|' symbol", file, l0, c0);
      i++;
      col++;
      add({ kind: 'atom', text: text.slice(start + 1, i - 1), line: l0, column: c0 });
      continue;
    }
    if (!isPrintableAscii(code)) refuse(code);
    const start = i;
    const c0 = col;
    for (; i < n; i++, col++) {
      const c = text.charCodeAt(i);
      if (c === 0x28 || c === 0x29 || c === 0x3b || c === 0x7c || !isPrintableAscii(c)) break;
    }
    add({ kind: 'atom', text: text.slice(start, i), line, column: c0 });
    // a character that is neither a delimiter nor whitespace is refused on the next round
  }
  if (stack.length) {
    const open = stack[stack.length - 1];
    throw new PropertyFormatError("unclosed '(' (the file may be truncated)", file, open.line, open.column);
  }
  return top;
}
