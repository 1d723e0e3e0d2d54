/**
 * Canonical JSON of a flat object: keys sorted, no whitespace. What the site's server signed.
 *
 * The seed's four server snippets agree on the shape but not on the bytes: Node and Ruby's json
 * gem write non-ASCII as is, Python's `json.dumps` and PHP's `json_encode` escape it as `\uXXXX`,
 * PHP without `JSON_UNESCAPED_SLASHES` escapes `/`, and Rails escapes `<`, `>`, `&`, U+2028 and
 * U+2029. All of them decode to the same object, so a signature over any one of those spellings
 * proves the same thing; `canonicalForms` yields each distinct spelling, most common first.
 */

/** The values a signed payload may hold: flat only. */
export type FlatValue = string | number | boolean | null;
export type FlatObject = Record<string, FlatValue>;

/** The JSON every snippet agrees on for a pure-ASCII payload: code-unit key order, JSON.stringify escapes. */
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
 * common spelling failed, without serialising that one again.
 */
export function* otherCanonicalForms(object: FlatObject, primary: string): Generator<string, void, undefined> {
  const seen = new Set<string>([primary]);
  for (const json of keyOrders(object, primary)) {
    for (const form of spellings(json)) {
      if (seen.has(form)) continue;
      seen.add(form);
      yield form;
    }
  }
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
 * Sorting by UTF-16 code unit (JS `sort()`) is what Python, Ruby and PHP do for ordinary keys.
 * Two other orders occur: the seed's Node snippet sorts with `localeCompare` and then builds an
 * object, which puts integer-like keys first; Python, Ruby and PHP sort by code point, which
 * differs from code-unit order only for keys with characters beyond U+FFFF.
 */
function* keyOrders(object: FlatObject, primary: string): Generator<string, void, undefined> {
  yield primary;
  const keys = Object.keys(object);
  if (keys.length < 2) return;
  const sorted = keys.slice().sort();
  // Each other order is computed only when it can differ: otherwise a failed signature would
  // pay a locale-aware sort and a code-point sort (with arrays per comparison) every time.
  if (nodeOrderMayDiffer(sorted)) {
    const nodeSnippet = JSON.stringify(Object.fromEntries(keys.slice().sort((a, b) => a.localeCompare(b)).map((k) => [k, object[k]])));
    if (nodeSnippet !== primary) yield nodeSnippet;
  }
  if (sorted.some((key) => SURROGATE.test(key))) {
    const codePoint = serialise(object, keys.slice().sort(byCodePoint));
    if (codePoint !== primary) yield codePoint;
  }
}

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
    if (INTEGER_LIKE.test(sorted[i]!)) return true;
    if (i > 0 && !lowercaseDecides(sorted[i - 1]!, sorted[i]!) && sorted[i - 1]!.localeCompare(sorted[i]!) >= 0) return true;
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
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** Characters some snippet writes differently from JSON.stringify. */
const NEEDS_VARIANTS = /[^\x20-\x7e]|[/<>&]/;
/** Everything outside printable ASCII (Python's ensure_ascii also escapes DEL). */
const NON_ASCII_AND_DEL = /[^\x00-\x7e]/g;
const NON_ASCII = /[^\x00-\x7f]/g;
const RAILS_UNSAFE = /[<>&\u2028\u2029]/g;

function unicodeEscape(char: string): string {
  return '\\u' + char.charCodeAt(0).toString(16).padStart(4, '0');
}

/**
 * The spellings of one serialisation. JSON.stringify has already escaped quotes, backslashes and
 * control characters the way every snippet does; `/` never appears escaped in its output, and
 * only inside strings, so replacing it is safe.
 */
function* spellings(json: string): Generator<string, void, undefined> {
  yield json; // Node, Ruby's json gem
  if (!NEEDS_VARIANTS.test(json)) return;
  const python = json.replace(NON_ASCII_AND_DEL, unicodeEscape); // json.dumps(ensure_ascii=True)
  yield python;
  const php = json.replace(NON_ASCII, unicodeEscape); // json_encode(..., JSON_UNESCAPED_SLASHES)
  yield php;
  yield php.replaceAll('/', '\\/'); // json_encode with default flags
  yield json.replace(RAILS_UNSAFE, unicodeEscape); // ActiveSupport's to_json
}
