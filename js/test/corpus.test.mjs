// The npm package against the shared corpus (tests/corpus/), held to the
// same contract table as the Rust doors: every record of every shape and
// every bare line, dropping and keeping non-analytics lines.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allCases, assertConforms } from './support.mjs';
import { Transformer, transformLine, transformRecord } from '../index.js';

const cases = allCases();
const lineCases = cases.filter((c) => c.line !== undefined);

test('the corpus has every shape', () => {
  assert.equal(cases.length, 5 * 2000);
  assert.equal(lineCases.length, 2 * 2000);
  const outcomes = new Set(cases.map((c) => c.expected.outcome));
  assert.deepEqual([...outcomes].sort(), ['drop', 'error', 'event']);
});

for (const keep of [false, true]) {
  const name = keep ? ', keep' : '';

  test(`records as JSON text${name}`, () => {
    assertConforms(`package, records${name}`, keep, cases, (c) => transformRecord(c.record, { keep, parse: false }));
  });

  test(`records as UTF-8 bytes${name}`, () => {
    const t = new Transformer();
    const encoder = new TextEncoder();
    assertConforms(`package, record bytes${name}`, keep, cases, (c) =>
      t.transformRecord(encoder.encode(c.record), { keep, parse: false }),
    );
    t.free();
  });

  test(`bare lines${name}`, () => {
    assertConforms(`package, lines${name}`, keep, lineCases, (c) => transformLine(c.line, { keep, parse: false }));
  });
}

test('records as objects, with fields parsed (BigInt where needed)', () => {
  // JSON.parse then JSON.stringify: the record as a JavaScript program holds
  // it (integers beyond 2^53 would already be rounded, so skip those records).
  const exact = cases.filter((c) => !/\d{16}/.test(c.record));
  assert.ok(exact.length > 5000, `${exact.length} records`);
  assertConforms('package, objects', false, exact, (c) => {
    const result = transformRecord(JSON.parse(c.record), { bigint: true });
    if (result.outcome !== 'drop') {
      assert.ok(result.fields && typeof result.fields === 'object', 'fields parsed');
    }
    return result;
  });
});

test('errors carry reason, offset, place and category', () => {
  let errors = 0;
  for (const c of lineCases.filter((x) => x.expected.outcome === 'error')) {
    const r = transformLine(c.line);
    assert.equal(r.outcome, 'error');
    assert.equal(r.error.reason, r.fields['twingate.parse_error']);
    assert.match(r.error.reason, new RegExp(`byte ${r.error.offset}\\b`));
    assert.equal(r.error.place, 'line');
    assert.ok(['not-an-object', 'truncated', 'syntax', 'depth'].includes(r.error.category), r.error.category);
    errors += 1;
  }
  assert.ok(errors > 10, `${errors} error lines in the corpus`);
});
