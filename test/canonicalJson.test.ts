/**
 * The spellings a signed payload is checked against (src/canonicalJson.ts), against a reference
 * written the plain way: each snippet's own key order and its own escapes by regular expression.
 * The verifier writes them faster (escapes as bytes, orders from one serialisation of each member,
 * nothing built for a payload no snippet spells otherwise); these say it writes the same bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalForms, canonicalJson, otherCanonicalForms, type FlatObject } from '../src/canonicalJson.js';
import { RUNS, checkProperty, timeoutFor } from './security/fc.js';

const json = (object: FlatObject, keys: readonly string[]) =>
  `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(object[k])}`).join(',')}}`;
const byCodePoint = (a: string, b: string) => {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
};
const unicodeEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Every spelling a seed snippet (or PHP without its flag) writes for `object`, the primary first, each once. */
function referenceSpellings(object: FlatObject): string[] {
  const codePoint = json(object, Object.keys(object).sort(byCodePoint));
  const php = codePoint.replace(/[\u0080-\uffff]/g, unicodeEscape);
  return [
    ...new Set([
      canonicalJson(object),
      // The seed's Node snippet, exactly.
      JSON.stringify(Object.fromEntries(Object.entries(object).sort(([a], [b]) => a.localeCompare(b)))),
      codePoint, // Ruby's json gem
      codePoint.replace(/[\u007f-\uffff]/g, unicodeEscape), // Python's json.dumps
      php, // PHP, JSON_UNESCAPED_SLASHES
      php.replace(/\//g, '\\/'), // PHP, default flags
      codePoint.replace(/[<>&\u2028\u2029]/g, unicodeEscape), // ActiveSupport
    ]),
  ];
}

/** Characters every snippet treats differently somewhere, and some that no one does. */
const character = fc.constantFrom(
  'a',
  'Z',
  '_',
  '1',
  '0',
  ' ',
  '/',
  '<',
  '>',
  '&',
  '"',
  '\\',
  '\n',
  '\x7f',
  'é',
  'e\u0301',
  '\u2028',
  '\u2029',
  '\uFF01',
  '\u{1F600}',
  '\uD800',
  '\uDC00',
);
const text = fc.array(character, { maxLength: 8 }).map((parts) => parts.join(''));
const flatObject: fc.Arbitrary<FlatObject> = fc.dictionary(
  fc.oneof(text, fc.nat(30).map(String)),
  fc.oneof(text, fc.integer(), fc.constant(null), fc.boolean()),
  { minKeys: 1, maxKeys: 6 },
);

describe('canonicalForms', () => {
  it(
    'yields exactly the spellings the snippets write, the primary first, each once',
    async () => {
      await checkProperty(
        'canonical forms match the reference spellings',
        fc.property(flatObject, (object) => {
          const forms = [...canonicalForms(object)];
          expect(forms[0]).toBe(canonicalJson(object));
          expect(new Set(forms).size).toBe(forms.length);
          expect(new Set(forms)).toEqual(new Set(referenceSpellings(object)));
        }),
      );
    },
    timeoutFor(RUNS, 0.5),
  );

  it('spells a payload of every escape as each snippet does', () => {
    const customer = {
      externalId: '1',
      bio: 'é/<>&\u2028\x7f',
      '\u{1F600}k': 'y',
      '\uFF01k': 'z',
      Plan: 'e\u0301',
      '10': 'x',
      timestamp: 1,
    };
    const forms = [...canonicalForms(customer)];
    expect(forms).toHaveLength(7);
    expect(new Set(forms)).toEqual(new Set(referenceSpellings(customer)));
  });

  it('builds nothing for a payload every snippet spells alike: the shared empty list, not a generator', () => {
    const customer = { email: 'ada@example.com', externalId: 'ada-1', name: 'Ada', timestamp: 1767225600 };
    const keys = Object.keys(customer).sort();
    const others = otherCanonicalForms(customer, canonicalJson(customer), keys);
    expect(Array.isArray(others)).toBe(true);
    expect([...others]).toEqual([]);
    // One character some snippet escapes, or keys some snippet orders otherwise, and there are others.
    for (const changed of [
      { ...customer, name: 'Adà' },
      { ...customer, url: 'https://example.com' },
      { ...customer, '10': 'x', '9': 'y' },
    ]) {
      expect([...otherCanonicalForms(changed, canonicalJson(changed), Object.keys(changed).sort())].length).toBeGreaterThan(0);
    }
  });
});
