/**
 * Canonical JSON of a flat object: keys sorted, no whitespace. What the site's server signed.
 *
 * The seed's four server snippets agree on the shape but not on the bytes: Node and Ruby's json
 * gem write non-ASCII as is, Python's `json.dumps` and PHP's `json_encode` escape it as `\uXXXX`,
 * PHP without `JSON_UNESCAPED_SLASHES` escapes `/`, and Rails escapes `<`, `>`, `&`, U+2028 and
 * U+2029. All of them decode to the same object, so a signature over any one of those spellings
 * proves the same thing; `canonicalForms` yields each distinct spelling, most common first: one
 * per snippet (its key order with its escapes), so at most seven, each no longer than
 * `longestSpellingLength` says.
 */

/**
 * The values a signed payload may hold: flat only.
 *
 * @example
 * ```ts
 * const plan: FlatValue = 'pro';
 * ```
 */
export type FlatValue = string | number | boolean | null;
/**
 * A flat object: what `signed-payload` signs as its `customer`.
 *
 * @example
 * ```ts
 * const customer: FlatObject = { externalId: '42', email: 'jane@example.com', timestamp: 1767225600 };
 * ```
 */
export type FlatObject = Record<string, FlatValue>;

/**
 * The JSON every snippet agrees on for a pure-ASCII payload: code-unit key order, JSON.stringify escapes.
 *
 * @example
 * ```ts
 * canonicalJson({ name: 'Jane', externalId: '42' }); // '{"externalId":"42","name":"Jane"}'
 * ```
 */
export function canonicalJson(object: FlatObject): string {
  return serialise(object, Object.keys(object).sort());
}

/**
 * Every distinct string a seed snippet could have signed for `object`, most likely first.
 * A generator, so a match on the first spelling costs nothing for the others.
 */
export function* canonicalForms(object: FlatObject): Generator<string, void, undefined> {
  const primary = canonicalJson(object);
  yield primary;
  yield* otherCanonicalForms(object, primary);
}

/**
 * The spellings other than `primary` (`canonicalJson(object)`): what a verifier tries after the
 * common spelling failed, without serialising that one again. One per snippet that can differ
 * (its own key order with its own escapes, never the cross product): at most six more.
 */
export function* otherCanonicalForms(object: FlatObject, primary: string): Generator<string, void, undefined> {
  const keys = Object.keys(object);
  // The Node snippet sorts with localeCompare; the others by code point (by UTF-8 bytes). Each
  // order is only computed when it can differ from code-unit order, so a plain failure pays for neither.
  const nodeOrder = nodeOrderMayDiffer(keys) ? nodeSnippetJson(object, keys) : primary;
  const codePointOrder = keys.some((key) => SURROGATE.test(key)) ? serialise(object, keys.slice().sort(byCodePoint)) : primary;
  // Which escapes change anything tells which spellings are new, without comparing long strings.
  const has = charactersIn(primary);
  if (nodeOrder !== primary) yield nodeOrder; // the seed's Node snippet
  if (codePointOrder !== primary && codePointOrder !== nodeOrder) yield codePointOrder; // Ruby's json gem
  if (has.nonAscii || has.del) yield escapeToAscii(codePointOrder, { del: true, slash: false }); // Python's json.dumps
  // PHP with JSON_UNESCAPED_SLASHES (without DEL, the same as Python's or Ruby's).
  if (has.nonAscii && has.del) yield escapeToAscii(codePointOrder, { del: false, slash: false });
  if (has.slash) yield escapeToAscii(codePointOrder, { del: false, slash: true }); // PHP's json_encode with its default flags
  if (has.html || (has.separator && has.otherNonAscii)) yield escapeForRails(codePointOrder); // ActiveSupport's to_json (else PHP's)
}

/**
 * An upper bound on the length of every spelling of `primary`: each escape writes one UTF-16
 * unit as six characters (`\uXXXX`), and `\/` adds one. Measured without building them.
 */
export function longestSpellingLength(primary: string): number {
  let length = primary.length;
  for (let i = 0; i < primary.length; i++) {
    const c = primary.charCodeAt(i);
    if (c > 0x7e || c === 0x3c || c === 0x3e || c === 0x26) length += 5;
    else if (c === 0x2f) length += 1;
  }
  return length;
}

/** The JSON the Node snippet writes: the entries sorted with localeCompare, made an object again (integer-like keys move first). */
function nodeSnippetJson(object: FlatObject, keys: readonly string[]): string {
  const entries = keys
    .slice()
    .sort(localeOrder)
    .map((key) => [key, object[key]]);
  return JSON.stringify(Object.fromEntries(entries));
}

function serialise(object: FlatObject, keys: readonly string[]): string {
  let json = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (i > 0) json += ',';
    json += JSON.stringify(key) + ':' + JSON.stringify(object[key]);
  }
  return json + '}';
}

/**
 * `a.localeCompare(b)`, as the Node snippet sorts: the same default-locale collation, from one
 * collator made once (localeCompare makes one per call, which cost more than the HMACs here).
 */
const localeOrder = new Intl.Collator().compare;

/** Code-point order differs from code-unit order only for characters beyond U+FFFF. */
const SURROGATE = /[\uD800-\uDFFF]/;
/** Integer-like keys, which an object puts first whatever the insertion order. */
const INTEGER_LIKE = /^\d+$/;

/**
 * Whether the seed's Node snippet (localeCompare sort, then an object) can order these keys
 * differently from `sorted` (code-unit order): only with an integer-like key, or when
 * localeCompare does not agree that `sorted` is strictly ascending (a total order that agrees
 * on every adjacent pair sorts the keys the same way).
 */
function nodeOrderMayDiffer(keys: readonly string[]): boolean {
  if (keys.length < 2) return false;
  const sorted = keys.slice().sort();
  for (let i = 0; i < sorted.length; i++) {
    if (INTEGER_LIKE.test(sorted[i]!)) return true;
    if (i > 0 && !lowercaseDecides(sorted[i - 1]!, sorted[i]!) && localeOrder(sorted[i - 1]!, sorted[i]!) >= 0) return true;
  }
  return false;
}

/**
 * Whether a < b in code units is settled the same way by localeCompare without asking it (it is
 * slow): they first differ at two lowercase ASCII letters, as in "email" < "externalId" < "name"
 * < "timestamp". Anything else (a prefix, whose tail may be ignorable to a collator; capitals;
 * punctuation) is left to localeCompare.
 */
function lowercaseDecides(a: string, b: string): boolean {
  let i = 0;
  while (i < a.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === a.length) return false;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  return x >= 97 && x <= 122 && y >= 97 && y <= 122;
}

function byCodePoint(a: string, b: string): number {
  // While they agree, both strings are at the same code unit: a character beyond U+FFFF takes two.
  for (let i = 0; i < a.length && i < b.length;) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

/** Which characters that some snippet escapes a serialisation holds. */
function charactersIn(json: string) {
  const has = { nonAscii: false, otherNonAscii: false, separator: false, del: false, slash: false, html: false };
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c < 0x2f) has.html ||= c === 0x26;
    else if (c === 0x2f) has.slash = true;
    else if (c === 0x3c || c === 0x3e) has.html = true;
    else if (c === 0x7f) has.del = true;
    else if (c > 0x7f) {
      has.nonAscii = true;
      if (c === 0x2028 || c === 0x2029) has.separator = true;
      else has.otherNonAscii = true;
    }
  }
  return has;
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Reused for every escape: a spelling is built and read before the next one starts. */
let scratch = Buffer.allocUnsafe(16 * 1024);

/**
 * `json` with every UTF-16 unit outside ASCII written `\uXXXX` (lowercase, as every snippet
 * writes it), DEL too when `del`, and `/` as `\/` when `slash`. Pure ASCII out, so it is written
 * as bytes in one pass: a string built character by character cost several times more.
 */
function escapeToAscii(json: string, options: { del: boolean; slash: boolean }): string {
  if (scratch.length < json.length * 6) scratch = Buffer.allocUnsafe(json.length * 6);
  const out = scratch;
  let n = 0;
  for (let i = 0; i < json.length; i++) {
    const unit = json.charCodeAt(i);
    if (unit < 0x7f || (unit === 0x7f && !options.del)) {
      if (unit === 0x2f && options.slash) out[n++] = 0x5c;
      out[n++] = unit;
    } else {
      out[n++] = 0x5c;
      out[n++] = 0x75;
      out[n++] = HEX_DIGITS[unit >> 12]!;
      out[n++] = HEX_DIGITS[(unit >> 8) & 15]!;
      out[n++] = HEX_DIGITS[(unit >> 4) & 15]!;
      out[n++] = HEX_DIGITS[unit & 15]!;
    }
  }
  return out.toString('latin1', 0, n);
}

const RAILS_ESCAPES: Readonly<Record<string, string>> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** What ActiveSupport escapes: <, >, &, U+2028 and U+2029; other non-ASCII stays as it is. */
function escapeForRails(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => RAILS_ESCAPES[c]!);
}
