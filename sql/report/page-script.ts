/**
 * Putting code and data into the <script> elements of a self-contained HTML page, with no bundler: a
 * typed function travels as its own source text (Function.prototype.toString of the function as loaded),
 * which is compiled JavaScript whichever way this module runs (tsc's dist/, tsx and vitest in
 * development). The page's Content-Security-Policy then admits that exact text by its hash.
 */
import { createHash } from 'node:crypto';
import { LakehouseError } from '../../core/errors.ts';

/**
 * JSON for a <script type="application/json"> element: `<`, `>` and `&` become \u escapes, so no
 * data value can close the element (`</script>`) or open a comment; JSON.parse restores them.
 * U+2028/2029 are escaped for older JS parsers. bigint values, should any reach here, become numbers.
 */
export function jsonForScript(value: unknown): string {
  const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Inside a <script> element these would end it early or switch the HTML parser's script-data state. */
const SCRIPT_BREAKERS = /<\/script|<script|<!--/i;

/**
 * The text of a classic inline <script> that calls `fn(document, arg)` once the page parses it; `arg`
 * is embedded as JSON. `fn` must be self-contained: the page gets only its source, so it may use its
 * parameters, globals of the page and what it declares inside, never imports or module-level values.
 * `doc` is typed `never` because only the page supplies it: Node cannot check it against the function.
 */
export function pageScript<A>(fn: (doc: never, arg: A) => void, arg: A): string {
  const source = Function.prototype.toString.call(fn);
  if (!/^function\b/.test(source)) {
    throw new LakehouseError('INTERNAL', `pageScript needs a function declaration or expression, whose source is callable on its own; got ${source.slice(0, 60)}.`);
  }
  // esbuild with keepNames (as tsx runs it) adds `__name(fn, "fn")` calls for nested functions inside
  // the source; its helper lives in the module, not the page. Names only matter for stack traces here.
  const script = `
(function () {
  'use strict';
  var __name = function (f) { return f; };
  (${source})(document, ${jsonForScript(arg)});
})();
`;
  if (SCRIPT_BREAKERS.test(script)) {
    throw new LakehouseError('INTERNAL', `The source of ${fn.name || 'the page function'} contains </script, <script or <!--, which would break its inline <script>; build that text from parts.`);
  }
  return script;
}

/** The CSP source (`'sha256-…'`) that admits exactly this inline script text. */
export function scriptHash(script: string): string {
  return `'sha256-${createHash('sha256').update(script, 'utf8').digest('base64')}'`;
}
