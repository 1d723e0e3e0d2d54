/**
 * What a site may have signed, or signed with, instead of what the verifier expects: other
 * serialisations of the customer, other spellings of an identifier, mangled copies of a secret.
 */
import { createSecretKey } from 'node:crypto';
import type { FlatObject, FlatValue } from '../canonicalJson.js';
import type { SigningKey } from '../keyRing.js';

// Serialisations of a customer.

export function serialise(
  object: FlatObject,
  keys: readonly string[],
  style: { item: string; colon: string } | { indent: number },
): string {
  if (keys.length === 0) return '{}';
  const entry = (key: string, colon: string) => JSON.stringify(key) + colon + JSON.stringify(object[key]);
  if ('indent' in style) {
    const pad = ' '.repeat(style.indent);
    return '{\n' + keys.map((key) => pad + entry(key, ': ')).join(',\n') + '\n}';
  }
  return '{' + keys.map((key) => entry(key, style.colon)).join(style.item) + '}';
}

export const PYTHON_SEPARATORS = { item: ', ', colon: ': ' };
export const COMPACT = { item: ',', colon: ':' };

/** The JSON as written, and as Python's ensure_ascii would write it. */
export function asciiVariants(json: string): string[] {
  const ascii = json.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  return ascii === json ? [json] : [json, ascii];
}

export const sortedKeys = (object: FlatObject) => Object.keys(object).sort();

export function without(object: FlatObject, field: string): FlatObject {
  return Object.fromEntries(Object.entries(object).filter(([key]) => key !== field));
}

export function withField(object: FlatObject, field: string, value: FlatValue): FlatObject {
  return Object.fromEntries([...Object.entries(object), [field, value]]);
}

// Spellings of an identifier.

/** Ways an identifier's case or whitespace may differ between signing and sending. */
export function identifierVariants(value: string): Array<[string, string]> {
  const variants: Array<[string, string]> = [
    [value.trim(), 'without its surrounding whitespace'],
    [value.toLowerCase(), 'in lower case'],
    [value.toUpperCase(), 'in upper case'],
    [value + '\n', 'with a trailing newline'],
  ];
  const seen = new Set([value]);
  return variants.filter(([variant]) => !seen.has(variant) && seen.add(variant));
}

// Copies of a configured secret.

export type SecretVariant = readonly [label: string, derive: (secret: Buffer) => Buffer | undefined];

/** Keys made from a configured key's secret: what a site's mangled copy of it would be. */
export function derivedKeys(key: SigningKey, variants: readonly SecretVariant[]) {
  const secret = key.material.export();
  const made: Buffer[] = [secret];
  return variants.flatMap(([label, derive]) => {
    const bytes = derive(secret);
    if (!bytes || bytes.length === 0 || made.some((other) => other.equals(bytes))) return [];
    made.push(bytes);
    return [{ label, key, material: createSecretKey(bytes) }];
  });
}

const newline = Buffer.from('\n');
export const SECRET_WHITESPACE: readonly SecretVariant[] = [
  ['plus a trailing newline', (s) => Buffer.concat([s, newline])],
  ['plus a trailing CRLF (Windows line ending)', (s) => Buffer.concat([s, Buffer.from('\r\n')])],
  ['plus a trailing space', (s) => Buffer.concat([s, Buffer.from(' ')])],
  ['without the surrounding whitespace that the copy configured here has', (s) => Buffer.from(s.toString('utf8').trim(), 'utf8')],
  ['in double quotes (as written in a .env file)', (s) => Buffer.concat([Buffer.from('"'), s, Buffer.from('"')])],
  ['in single quotes (as written in a .env file)', (s) => Buffer.concat([Buffer.from("'"), s, Buffer.from("'")])],
];
export const SECRET_DECODED: readonly SecretVariant[] = [
  // Node's decoder reads both alphabets; Python's b64decode and PHP's base64_decode skip other characters.
  ['base64-decoded', (s) => Buffer.from(s.toString('utf8'), 'base64')],
  [
    'base64-decoded (skipping the characters outside the base64 alphabet)',
    (s) => Buffer.from(s.toString('utf8').replace(/[^A-Za-z0-9+/]/g, ''), 'base64'),
  ],
];
