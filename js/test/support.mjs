// The shared fixture (tests/support/mod.rs) for JavaScript: the corpus in
// every shape, the expected outcome of each record, and a checker that
// compares an answer with it as JSON values (integers exact, as BigInt
// beyond 2^53; duplicate keys rejected).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { parseExact } = require('../json.js');

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const corpusDir = `${repoRoot}tests/corpus/`;

// The package must be built, from the current sources: this module is
// imported before the package by every test file.
const BUILD_HINT = 'build it with js/build.sh';
const pkgWasm = fileURLToPath(new URL('../pkg/twingate_analytics_bg.wasm', import.meta.url));
if (!existsSync(pkgWasm)) throw new Error(`${pkgWasm} is missing: ${BUILD_HINT}`);
{
  const depInfo = `${repoRoot}target/js/wasm32-unknown-unknown/release/twingate_analytics.d`;
  const built = statSync(pkgWasm).mtimeMs;
  const deps = existsSync(depInfo) ? readFileSync(depInfo, 'utf8').split(': ')[1] ?? '' : '';
  for (const source of deps.split(/\s+/).filter((f) => f && existsSync(f))) {
    if (statSync(source).mtimeMs > built) throw new Error(`${pkgWasm} is older than ${source}: ${BUILD_HINT}`);
  }
}

function readLines(name) {
  const text = readFileSync(corpusDir + name, 'utf8');
  // Only `\n` ends a line; a `\r` before it is part of the line.
  const lines = text.split('\n');
  if (lines.pop() !== '') throw new Error(`${name} must end with a newline`);
  return lines;
}

function expectations(name) {
  return readLines(name).map((line) => {
    const v = parseExact(line);
    if (!['event', 'drop', 'error'].includes(v.outcome)) {
      throw new Error(`unknown outcome ${v.outcome}`);
    }
    return v.outcome === 'event' ? { outcome: 'event', fields: v.fields } : { outcome: v.outcome };
  });
}

const lineRecord = (line) => JSON.stringify({ log: line });

/** A CRI line `<time> <stream> <P|F> <content>` as Fluent Bit's cri parser record. */
function criRecord(line) {
  const parts = line.split(' ');
  const [time, stream, p] = parts;
  const log = parts.slice(3).join(' ');
  return JSON.stringify({ time, stream, _p: p, log });
}

/** Every record of the corpus, in every shape (as the Rust support). */
export function allCases() {
  const plain = expectations('expected.ndjson');
  const syslog = expectations('expected.syslog.ndjson');
  const cases = [];
  const add = (shape, file, expected, lineKey, toRecord, raw) => {
    const lines = readLines(file);
    if (lines.length !== expected.length) throw new Error(`${file}: one expectation per line`);
    lines.forEach((line, i) => {
      cases.push({
        shape,
        lineNo: i + 1,
        record: toRecord(line),
        line: raw ? line : undefined,
        lineKey,
        expected: expected[i],
      });
    });
  };
  add('raw', 'connector.log', plain, 'log', lineRecord, true);
  add('syslog', 'syslog.log', syslog, 'log', lineRecord, true);
  add('docker', 'docker.log', plain, 'log', (l) => l, false);
  add('cri', 'cri.log', plain, 'log', criRecord, false);
  add('journal', 'journal.ndjson', plain, 'MESSAGE', (l) => l, false);
  return cases;
}

/** Numbers by value (BigInt and Number compare as floats), the rest structurally. */
export function jsonEq(a, b) {
  const numeric = (x) => typeof x === 'number' || typeof x === 'bigint';
  if (numeric(a) && numeric(b)) {
    if (typeof a === typeof b) return a === b || (a === 0 && b === 0);
    return Number(a) === Number(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEq(x, b[i]))
    );
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length &&
      ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEq(a[k], b[k]))
    );
  }
  return a === b;
}

/** An output object text: JSON, an object, no key twice, no raw NUL. */
export function parseOutput(text) {
  if (text.includes('\0')) throw new Error('output holds a raw NUL');
  const v = parseExact(text, { duplicateKeys: 'reject' });
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
  return v;
}

const show = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));

/**
 * Checks one answer `{outcome, json?}` against the contract; `keep` is the
 * keep entry point. Returns a description of the difference, or null.
 */
export function check(c, keep, answer) {
  const record = parseExact(c.record);
  const exp = c.expected;
  try {
    if (exp.outcome === 'event' && answer.outcome === 'event') {
      const got = parseOutput(answer.json);
      const want = { ...record };
      delete want[c.lineKey];
      for (const [k, v] of Object.entries(exp.fields)) {
        Object.defineProperty(want, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      if (!jsonEq(got, want)) {
        const diffs = [];
        for (const k of new Set([...Object.keys(want), ...Object.keys(got)])) {
          if (!jsonEq(want[k], got[k])) diffs.push(`${k}: want ${show(want[k])} got ${show(got[k])}`);
        }
        return diffs.join('; ');
      }
      return null;
    }
    if (exp.outcome === 'drop' && !keep && answer.outcome === 'drop') return null;
    if (exp.outcome === 'drop' && keep && answer.outcome === 'kept') {
      return jsonEq(parseOutput(answer.json), record) ? null : `kept record changed: ${answer.json}`;
    }
    if (exp.outcome === 'error' && answer.outcome === 'error') {
      const got = parseOutput(answer.json);
      const message = got['twingate.parse_error'];
      if (typeof message !== 'string' || !message.includes('byte ')) {
        return `twingate.parse_error should say where: ${show(message)}`;
      }
      delete got['twingate.parse_error'];
      return jsonEq(got, record) ? null : `error record is not the record plus the reason: ${answer.json}`;
    }
  } catch (e) {
    return `bad output: ${e.message}`;
  }
  return `expected ${exp.outcome}${keep && exp.outcome === 'drop' ? ' (kept)' : ''}, got ${show(answer).slice(0, 300)}`;
}

/** Runs `door` over every case; throws with the first differences. */
export function assertConforms(name, keep, cases, door) {
  const failures = [];
  for (const c of cases) {
    const why = check(c, keep, door(c));
    if (why !== null) failures.push(`${c.shape} line ${c.lineNo}: ${why}`.slice(0, 600));
  }
  if (failures.length > 0) {
    throw new Error(
      `${name}: ${failures.length} of ${cases.length} records differ from the contract:\n${failures.slice(0, 15).join('\n')}`,
    );
  }
}
