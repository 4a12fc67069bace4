'use strict';
// A JSON parser that keeps integers exact: integers outside JavaScript's
// safe range (beyond ±(2^53 − 1)) become BigInt instead of being rounded.
// Used for `{ bigint: true }`; JSON.parse is used otherwise.

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

/**
 * @param {string} text
 * @param {{ duplicateKeys?: 'last' | 'reject' }} [options]
 */
function parseExact(text, options = {}) {
  const rejectDuplicates = options.duplicateKeys === 'reject';
  let pos = 0;

  const fail = (what) => {
    throw new SyntaxError(`${what} at position ${pos} in JSON`);
  };
  const skip = () => {
    WHITESPACE.lastIndex = pos;
    WHITESPACE.exec(text);
    pos = WHITESPACE.lastIndex;
  };
  const string = () => {
    const start = pos;
    pos += 1;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (Number.isNaN(c)) fail('Unterminated string');
      if (c === 0x5c) {
        pos += 2;
      } else if (c === 0x22) {
        pos += 1;
        break;
      } else {
        pos += 1;
      }
    }
    const raw = text.slice(start, pos);
    // JSON.parse validates and decodes escapes (surrogate pairs too).
    return JSON.parse(raw);
  };
  const value = () => {
    skip();
    const c = text[pos];
    if (c === '{') {
      pos += 1;
      const object = {};
      const seen = rejectDuplicates ? new Set() : null;
      skip();
      if (text[pos] === '}') {
        pos += 1;
        return object;
      }
      for (;;) {
        skip();
        if (text[pos] !== '"') fail('Expected a key');
        const key = string();
        if (seen) {
          if (seen.has(key)) fail(`Duplicate key ${JSON.stringify(key)}`);
          seen.add(key);
        }
        skip();
        if (text[pos] !== ':') fail('Expected `:`');
        pos += 1;
        Object.defineProperty(object, key, {
          value: value(),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        skip();
        if (text[pos] === ',') {
          pos += 1;
        } else if (text[pos] === '}') {
          pos += 1;
          return object;
        } else {
          fail('Expected `,` or `}`');
        }
      }
    }
    if (c === '[') {
      pos += 1;
      const array = [];
      skip();
      if (text[pos] === ']') {
        pos += 1;
        return array;
      }
      for (;;) {
        array.push(value());
        skip();
        if (text[pos] === ',') {
          pos += 1;
        } else if (text[pos] === ']') {
          pos += 1;
          return array;
        } else {
          fail('Expected `,` or `]`');
        }
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith('false', pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith('null', pos)) {
      pos += 4;
      return null;
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (!m) fail('Unexpected token');
    pos = NUMBER.lastIndex;
    const n = Number(m[0]);
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n)) {
      return BigInt(m[0]);
    }
    return n;
  };

  const result = value();
  skip();
  if (pos !== text.length) fail('Unexpected text after JSON');
  return result;
}

/** Integers of 16+ digits are the only ones that may be unsafe. */
const LONG_DIGITS = /\d{16}/;

/**
 * JSON.parse, unless the text may hold an unsafe integer.
 * @param {string} text
 */
function parseBigint(text) {
  return LONG_DIGITS.test(text) ? parseExact(text) : JSON.parse(text);
}

module.exports = { parseExact, parseBigint };
