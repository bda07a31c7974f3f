import { PropertyFormatError } from '@certkd/core';

/** An S-expression node with its 1-based source position. */
export type SExpr =
  | { kind: 'atom'; text: string; line: number; column: number }
  | { kind: 'list'; items: SExpr[]; line: number; column: number };

/** Parse SMT-LIB style text ('; comments', parentheses, atoms) into top-level S-expressions. */
export function parseSExprs(text: string, file?: string): SExpr[] {
  const top: SExpr[] = [];
  const stack: Extract<SExpr, { kind: 'list' }>[] = [];
  let line = 1;
  let col = 1;
  let i = 0;
  const n = text.length;
  const add = (e: SExpr) => (stack.length ? stack[stack.length - 1].items.push(e) : top.push(e));
  while (i < n) {
    const ch = text[i];
    if (ch === '\n') {
      line++;
      col = 1;
      i++;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
      col++;
      continue;
    }
    if (ch === ';') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (ch === '(') {
      stack.push({ kind: 'list', items: [], line, column: col });
      i++;
      col++;
      continue;
    }
    if (ch === ')') {
      const done = stack.pop();
      if (!done) throw new PropertyFormatError("unbalanced ')'", file, line, col);
      add(done);
      i++;
      col++;
      continue;
    }
    if (ch === '|') {
      // quoted symbol |...|
      const start = i;
      const l0 = line;
      const c0 = col;
      i++;
      while (i < n && text[i] !== '|') {
        if (text[i] === '\n') {
          line++;
          col = 0;
        }
        i++;
        col++;
      }
      if (i >= n) throw new PropertyFormatError("unterminated '|' symbol", file, l0, c0);
      i++;
      col++;
      add({ kind: 'atom', text: text.slice(start + 1, i - 1), line: l0, column: c0 });
      continue;
    }
    const start = i;
    const c0 = col;
    while (i < n && !/[\s();|]/.test(text[i])) {
      i++;
      col++;
    }
    add({ kind: 'atom', text: text.slice(start, i), line, column: c0 });
  }
  if (stack.length) {
    const open = stack[stack.length - 1];
    throw new PropertyFormatError("unclosed '(' (the file may be truncated)", file, open.line, open.column);
  }
  return top;
}
