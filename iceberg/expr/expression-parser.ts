import { LakehouseError } from '../../core/errors.ts';
import { and, not, or, type Expr, type LiteralInput } from './expressions.ts';

/**
 * `parseFilter` reads the small SQL-like filter syntax of the CLI's --where and of scan/overwrite options:
 *
 *   filter    := or
 *   or        := and ( OR and )*
 *   and       := unary ( AND unary )*
 *   unary     := NOT unary | '(' filter ')' | TRUE | FALSE | predicate
 *   predicate := column ( op value | [NOT] IN '(' value (',' value)* ')' | IS [NOT] NULL | IS [NOT] NAN
 *                        | [NOT] LIKE 'prefix%' )
 *   op        := = | == | != | <> | < | <= | > | >=
 *   value     := 'string' (quote doubled inside) | number | TRUE | FALSE
 *   column    := name ( '.' name )* | "quoted name"
 *
 * Keywords are case-insensitive. Numbers that a double cannot hold exactly (long decimals, integers past
 * 2^53) are passed on as text so `bind` converts them to the column's type without losing digits.
 * Errors are sentences that name the 1-based character position.
 */

type TokenKind = 'name' | 'quotedName' | 'string' | 'number' | 'op' | 'lparen' | 'rparen' | 'comma' | 'end';

interface Token {
  kind: TokenKind;
  text: string;
  /** 0-based offset into the filter text. */
  pos: number;
}

class FilterSyntaxError extends LakehouseError {
  constructor(filter: string, pos: number, message: string) {
    super('INVALID_ARGUMENT', `Cannot parse filter "${filter}" at character ${pos + 1}: ${message}`, { context: { filter, position: pos + 1 } });
    this.name = 'FilterSyntaxError';
  }
}

const OPERATORS = ['==', '!=', '<>', '<=', '>=', '=', '<', '>'];

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) { i++; continue; }
    const start = i;
    if (c === '(') { tokens.push({ kind: 'lparen', text: c, pos: i++ }); continue; }
    if (c === ')') { tokens.push({ kind: 'rparen', text: c, pos: i++ }); continue; }
    if (c === ',') { tokens.push({ kind: 'comma', text: c, pos: i++ }); continue; }
    if (c === "'" || c === '"') {
      // '' inside a string (and "" inside a quoted name) stands for one quote, as in SQL.
      let text = '';
      i++;
      for (;;) {
        if (i >= src.length) {
          const what = c === "'" ? 'string' : 'quoted column name';
          throw new FilterSyntaxError(src, start, `the ${what} that starts here is never closed; end it with ${c} and write a ${c} inside it as ${c}${c}.`);
        }
        if (src[i] === c) {
          if (src[i + 1] === c) { text += c; i += 2; continue; }
          i++;
          break;
        }
        text += src[i++];
      }
      tokens.push({ kind: c === "'" ? 'string' : 'quotedName', text, pos: start });
      continue;
    }
    const num = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(src.slice(i));
    if (num && (c !== '-' || /[\d.]/.test(src[i + 1] ?? ''))) {
      if (/[A-Za-z_]/.test(src[i + num[0].length] ?? '')) {
        throw new FilterSyntaxError(src, start, `"${num[0]}${src[i + num[0].length]}..." is neither a number nor a column name; column names start with a letter or _ (quote others as "name").`);
      }
      tokens.push({ kind: 'number', text: num[0], pos: start });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*/.exec(src.slice(i));
    if (name) {
      tokens.push({ kind: 'name', text: name[0], pos: start });
      i += name[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (op) {
      tokens.push({ kind: 'op', text: op, pos: start });
      i += op.length;
      continue;
    }
    throw new FilterSyntaxError(src, start, `unexpected character "${c}"; a filter looks like event_type = 'click' AND amount > 10.`);
  }
  tokens.push({ kind: 'end', text: '', pos: src.length });
  return tokens;
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'end': return 'the end of the filter';
    case 'string': return `the string '${t.text}'`;
    case 'quotedName': return `the column "${t.text}"`;
    default: return `"${t.text}"`;
  }
}

const COMPARISON: Record<string, 'eq' | 'notEq' | 'lt' | 'ltEq' | 'gt' | 'gtEq'> = {
  '=': 'eq', '==': 'eq', '!=': 'notEq', '<>': 'notEq', '<': 'lt', '<=': 'ltEq', '>': 'gt', '>=': 'gtEq',
};

class Parser {
  private i = 0;
  constructor(private readonly src: string, private readonly tokens: Token[]) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.i++;
    return t;
  }

  private isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'name' && t.text.toLowerCase() === word;
  }

  private acceptKeyword(word: string): boolean {
    if (!this.isKeyword(word)) return false;
    this.i++;
    return true;
  }

  private error(t: Token, message: string): never {
    throw new FilterSyntaxError(this.src, t.pos, message);
  }

  parse(): Expr {
    if (this.peek().kind === 'end') this.error(this.peek(), "the filter is empty; write a condition such as event_type = 'click'.");
    const e = this.parseOr();
    const t = this.peek();
    if (t.kind !== 'end') {
      const hint = t.kind === 'rparen' ? 'this ) has no matching (' : 'conditions are joined with AND or OR';
      this.error(t, `unexpected ${describe(t)} after a complete condition; ${hint}.`);
    }
    return e;
  }

  private parseOr(): Expr {
    let e = this.parseAnd();
    while (this.acceptKeyword('or')) e = or(e, this.parseAnd());
    return e;
  }

  private parseAnd(): Expr {
    let e = this.parseUnary();
    while (this.acceptKeyword('and')) e = and(e, this.parseUnary());
    return e;
  }

  private parseUnary(): Expr {
    if (this.acceptKeyword('not')) return not(this.parseUnary());
    const t = this.peek();
    if (t.kind === 'lparen') {
      this.next();
      const e = this.parseOr();
      const close = this.peek();
      if (close.kind !== 'rparen') this.error(close, `expected ) to close the ( at character ${t.pos + 1} but found ${describe(close)}.`);
      this.next();
      return e;
    }
    if (this.isKeyword('true') || this.isKeyword('false')) {
      this.next();
      return { op: t.text.toLowerCase() === 'true' ? 'true' : 'false' };
    }
    return this.parsePredicate();
  }

  private parseColumn(): string {
    const t = this.peek();
    if (t.kind === 'quotedName') { this.next(); return t.text; }
    if (t.kind === 'name' && !['and', 'or', 'not', 'in', 'is', 'like', 'null'].includes(t.text.toLowerCase())) {
      this.next();
      return t.text;
    }
    this.error(t, `expected a column name but found ${describe(t)}${t.kind === 'string' ? '; write the column first, as in event_type = \'click\'' : ''}.`);
  }

  private parsePredicate(): Expr {
    const term = this.parseColumn();
    const t = this.peek();
    if (t.kind === 'op') {
      this.next();
      if (this.isKeyword('null')) {
        this.error(this.peek(), `a comparison with NULL is never true; write ${term} IS ${t.text === '!=' || t.text === '<>' ? 'NOT ' : ''}NULL instead.`);
      }
      return { op: COMPARISON[t.text]!, term, value: this.parseValue() };
    }
    if (this.acceptKeyword('is')) {
      const negated = this.acceptKeyword('not');
      if (this.acceptKeyword('null')) return { op: negated ? 'notNull' : 'isNull', term };
      if (this.acceptKeyword('nan')) return { op: negated ? 'notNaN' : 'isNaN', term };
      this.error(this.peek(), `expected NULL or NAN after IS${negated ? ' NOT' : ''} but found ${describe(this.peek())}.`);
    }
    const negated = this.isKeyword('not') && (this.isKeyword('in', 1) || this.isKeyword('like', 1));
    if (negated) this.next();
    if (this.acceptKeyword('in')) return { op: negated ? 'notIn' : 'in', term, values: this.parseList() };
    if (this.isKeyword('like')) {
      this.next();
      return this.parseLike(term, negated);
    }
    this.error(t, `expected a comparison (=, !=, <, <=, >, >=), IN, IS NULL or LIKE after column ${term} but found ${describe(t)}.`);
  }

  private parseList(): LiteralInput[] {
    const open = this.peek();
    if (open.kind !== 'lparen') this.error(open, `expected ( to start the IN list but found ${describe(open)}.`);
    this.next();
    const values = [this.parseValue()];
    while (this.peek().kind === 'comma') {
      this.next();
      values.push(this.parseValue());
    }
    const close = this.peek();
    if (close.kind !== 'rparen') this.error(close, `expected , or ) in the IN list that starts at character ${open.pos + 1} but found ${describe(close)}.`);
    this.next();
    return values;
  }

  private parseValue(): LiteralInput {
    const t = this.peek();
    if (t.kind === 'string') { this.next(); return t.text; }
    if (t.kind === 'number') { this.next(); return numberLiteral(t.text); }
    if (this.isKeyword('true') || this.isKeyword('false')) { this.next(); return t.text.toLowerCase() === 'true'; }
    if (this.isKeyword('null')) this.error(t, 'NULL is not a value to compare with; use IS NULL or IS NOT NULL.');
    const hint = t.kind === 'name' ? `; quote text as '${t.text}' (comparing two columns is not supported)` : '';
    this.error(t, `expected a value (a 'quoted string', a number, true or false) but found ${describe(t)}${hint}.`);
  }

  /** Only prefix patterns can be pushed into Iceberg (startsWith); anything else is refused, not guessed. */
  private parseLike(term: string, negated: boolean): Expr {
    const t = this.peek();
    if (t.kind !== 'string') this.error(t, `expected a quoted pattern such as 'abc%' after LIKE but found ${describe(t)}.`);
    this.next();
    let prefix = '';
    let wildcardAt = -1;
    for (let k = 0; k < t.text.length; k++) {
      const c = t.text[k]!;
      if (c === '\\' && k + 1 < t.text.length) { prefix += t.text[++k]; continue; }
      if (c === '%' || c === '_') { wildcardAt = k; break; }
      prefix += c;
    }
    if (wildcardAt === -1) return { op: negated ? 'notEq' : 'eq', term, value: prefix };
    if (t.text[wildcardAt] !== '%' || wildcardAt !== t.text.length - 1) {
      this.error(t, `LIKE supports only prefix patterns such as 'abc%' (one % at the end); escape a literal % or _ as \\% or \\_.`);
    }
    return { op: negated ? 'notStartsWith' : 'startsWith', term, value: prefix };
  }
}

function numberLiteral(text: string): LiteralInput {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  const n = Number(text);
  // Keep the digits when a double would round them (e.g. a decimal(38,10) literal).
  const significant = text.replace(/^-/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return significant.length <= 15 ? n : text;
}

/** Parses the SQL-like filter syntax into an unbound expression (see the grammar above). */
export function parseFilter(text: string): Expr {
  return new Parser(text, tokenize(text)).parse();
}
