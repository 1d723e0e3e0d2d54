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
  return jsonInKeyOrder(object, Object.keys(object).sort());
}

/**
 * Every distinct string a seed snippet could have signed for `object`, most likely first.
 * A generator, so a match on the first spelling costs nothing for the others.
 */
export function* canonicalForms(object: FlatObject): Generator<string, void, undefined> {
  const keys = Object.keys(object).sort();
  const primary = jsonInKeyOrder(object, keys);
  yield primary;
  for (const spelling of otherCanonicalForms(object, primary, keys))
    yield typeof spelling === 'string' ? spelling : spelling.toString('utf8');
}

/**
 * The spellings other than `primary` (`jsonInKeyOrder(object, sortedKeys)`): what a verifier
 * tries after the common spelling failed, without serialising that one again. One per snippet
 * that can differ (its own key order with its own escapes, never the cross product): at most six
 * more, the escaped ones as their UTF-8 bytes (what an HMAC reads). For the usual payload (ASCII
 * without `/`, `<`, `>`, `&`, its keys in the same order for every snippet) there are none, and
 * finding that out builds nothing.
 */
export function otherCanonicalForms(object: FlatObject, primary: string, sortedKeys: readonly string[]): Iterable<string | Buffer> {
  const escaped = ESCAPED_BY_SOME_SNIPPET.test(primary);
  const nodeOrderDiffers = nodeOrderMayDiffer(sortedKeys);
  return escaped || nodeOrderDiffers ? spellingsBeyond(object, primary, sortedKeys, nodeOrderDiffers) : NO_OTHER_SPELLINGS;
}

const NO_OTHER_SPELLINGS: readonly string[] = Object.freeze([]);

/** The other spellings, each built only when the one before it has been tried. */
function* spellingsBeyond(
  object: FlatObject,
  primary: string,
  sortedKeys: readonly string[],
  nodeOrderDiffers: boolean,
): Generator<string | Buffer, void, undefined> {
  // The Node snippet sorts with localeCompare; the others by code point (by UTF-8 bytes). Each
  // order is only computed when it can differ from code-unit order, from one `"key":value` per key.
  let members: Map<string, string> | undefined;
  const inOrder = (keys: readonly string[]) => {
    members ??= new Map(sortedKeys.map((key) => [key, JSON.stringify(key) + ':' + JSON.stringify(object[key])]));
    return '{' + keys.map((key) => members!.get(key)!).join(',') + '}';
  };
  const nodeOrder = nodeOrderDiffers ? inOrder(nodeSnippetOrder(object)) : primary;
  const codePointOrder = sortedKeys.some((key) => SURROGATE.test(key)) ? inOrder(sortedKeys.slice().sort(byCodePoint)) : primary;
  if (nodeOrder !== primary) yield nodeOrder; // the seed's Node snippet
  if (codePointOrder !== primary && codePointOrder !== nodeOrder) yield codePointOrder; // Ruby's json gem
  // Which escapes change anything tells which spellings are new, without comparing long strings.
  const nonAscii = NON_ASCII.test(primary);
  const del = primary.includes('\x7f');
  const slash = primary.includes('/');
  const rails = HTML.test(primary) || (SEPARATOR.test(primary) && OTHER_NON_ASCII.test(primary));
  if (!nonAscii && !del && !slash && !rails) return;
  // Every escaped spelling is written from the UTF-8 of the code-point order, made once.
  const utf8 = Buffer.from(codePointOrder, 'utf8');
  if (nonAscii || del) yield spelt(utf8, NON_ASCII_ESCAPED | DEL_ESCAPED); // Python's json.dumps
  // PHP's json_encode with JSON_UNESCAPED_SLASHES, as the seed has it (without DEL, the same as Python's or Ruby's).
  if (nonAscii && del) yield spelt(utf8, NON_ASCII_ESCAPED);
  if (slash) yield spelt(utf8, NON_ASCII_ESCAPED | SLASH_ESCAPED); // PHP's json_encode with its default flags
  // ActiveSupport's to_json (without <, > or &, and with only separators beyond ASCII: PHP's).
  if (rails) yield spelt(utf8, HTML_ESCAPED);
}

/**
 * An upper bound on the length of every spelling of `primary`: each escape writes one UTF-16
 * unit as six characters (`\uXXXX`), and `\/` adds one. Measured without building them.
 */
export function longestSpellingLength(primary: string): number {
  let length = primary.length;
  if (!ESCAPED_BY_SOME_SNIPPET.test(primary)) return length;
  for (let i = 0; i < primary.length; i++) {
    const c = primary.charCodeAt(i);
    if (c > 0x7e || c === 0x3c || c === 0x3e || c === 0x26) length += 5;
    else if (c === 0x2f) length += 1;
  }
  return length;
}

/**
 * The key order of the Node snippet's JSON: its entries sorted with localeCompare, made an object
 * again (so integer-like keys move first), starting from the order the keys arrived in
 * (collation ties, é and e + U+0301, keep it).
 */
function nodeSnippetOrder(object: FlatObject): string[] {
  const sorted = Object.keys(object).sort(localeOrder);
  return Object.keys(Object.fromEntries(sorted.map((key) => [key, 0])));
}

/** The JSON of a flat object with its keys in the order given: `canonicalJson` when they are sorted. */
export function jsonInKeyOrder(object: FlatObject, keys: readonly string[]): string {
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

/**
 * A character some snippet writes otherwise than JSON.stringify: `/`, `<`, `>`, `&`, DEL, or
 * anything beyond ASCII (JSON.stringify has escaped every control character already).
 */
const ESCAPED_BY_SOME_SNIPPET = /[/<>&\u007f-\uffff]/;
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
function nodeOrderMayDiffer(sorted: readonly string[]): boolean {
  for (let i = 0; i < sorted.length; i++) {
    const key = sorted[i]!;
    const first = key.charCodeAt(0);
    if (first >= 0x30 && first <= 0x39 && INTEGER_LIKE.test(key)) return true;
    if (i > 0 && !lowercaseDecides(sorted[i - 1]!, key) && localeOrder(sorted[i - 1]!, key) >= 0) return true;
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

const NON_ASCII = /[\u0080-\uffff]/;
const OTHER_NON_ASCII = /[\u0080-\u2027\u202a-\uffff]/;
const SEPARATOR = /[\u2028\u2029]/;
const HTML = /[<>&]/;

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Where each spelling is written before it is copied out at its length. */
let scratch = Buffer.allocUnsafe(16 * 1024);

/** What a spelling writes as `\uXXXX` (or `\/`) instead of as itself. */
const NON_ASCII_ESCAPED = 1;
const DEL_ESCAPED = 2;
const SLASH_ESCAPED = 4;
/** <, >, &, U+2028 and U+2029: what ActiveSupport escapes (other non-ASCII stays as it is). */
const HTML_ESCAPED = 8;

/**
 * `utf8` (JSON) with what `escapes` names written as the snippets write it (`\uXXXX`, lowercase
 * hex; a character beyond U+FFFF as its two surrogates), in one pass over the bytes. Never built
 * as a string: a spelling made with replaceAll, then encoded again for the HMAC, cost more than
 * the HMAC. (`utf8` is well formed: JSON.stringify leaves no lone surrogate raw.)
 */
function spelt(utf8: Buffer, escapes: number): Buffer {
  if (scratch.length < utf8.length * 6) scratch = Buffer.allocUnsafe(utf8.length * 6);
  const out = scratch;
  let n = 0;
  for (let i = 0; i < utf8.length; i++) {
    const byte = utf8[i]!;
    if (byte < 0x80) {
      if (byte === 0x2f && escapes & SLASH_ESCAPED) out[n++] = 0x5c;
      if ((byte === 0x7f && escapes & DEL_ESCAPED) || ((byte === 0x3c || byte === 0x3e || byte === 0x26) && escapes & HTML_ESCAPED)) {
        n = writeEscape(out, n, byte);
      } else {
        out[n++] = byte;
      }
    } else if (escapes & NON_ASCII_ESCAPED) {
      let point: number;
      if (byte < 0xe0) point = ((byte & 0x1f) << 6) | (utf8[++i]! & 0x3f);
      else if (byte < 0xf0) point = ((byte & 0x0f) << 12) | ((utf8[++i]! & 0x3f) << 6) | (utf8[++i]! & 0x3f);
      else point = ((byte & 0x07) << 18) | ((utf8[++i]! & 0x3f) << 12) | ((utf8[++i]! & 0x3f) << 6) | (utf8[++i]! & 0x3f);
      if (point > 0xffff) {
        n = writeEscape(out, n, 0xd800 + ((point - 0x10000) >> 10));
        n = writeEscape(out, n, 0xdc00 + (point & 0x3ff));
      } else {
        n = writeEscape(out, n, point);
      }
    } else if (byte === 0xe2 && utf8[i + 1] === 0x80 && (utf8[i + 2] === 0xa8 || utf8[i + 2] === 0xa9) && escapes & HTML_ESCAPED) {
      n = writeEscape(out, n, utf8[i + 2] === 0xa8 ? 0x2028 : 0x2029);
      i += 2;
    } else {
      out[n++] = byte;
    }
  }
  return Buffer.from(out.subarray(0, n));
}

/** Writes `\uXXXX` for a UTF-16 unit at `n`; returns the new end. */
function writeEscape(out: Buffer, n: number, unit: number): number {
  out[n] = 0x5c;
  out[n + 1] = 0x75;
  out[n + 2] = HEX_DIGITS[unit >> 12]!;
  out[n + 3] = HEX_DIGITS[(unit >> 8) & 15]!;
  out[n + 4] = HEX_DIGITS[(unit >> 4) & 15]!;
  out[n + 5] = HEX_DIGITS[unit & 15]!;
  return n + 6;
}
