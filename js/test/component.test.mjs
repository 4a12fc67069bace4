// The WebAssembly component (wasm32-wasip2), transpiled by jco, in Node:
// the same corpus and contract as every other door. Needs
// `js/build.sh` (or: cargo build --release -p twingate-component --target
// wasm32-wasip2, then npx jco transpile ... -o js/component).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { allCases, assertConforms } from './support.mjs';

const entry = new URL('../component/twingate_component.js', import.meta.url);
if (!existsSync(entry)) {
  throw new Error(`${entry.pathname} is missing: run js/build.sh (it builds the component and runs jco transpile)`);
}
const { transform } = await import(entry);

const cases = allCases();
const lineCases = cases.filter((c) => c.line !== undefined);

const join = (fields) => `{${fields.map((f) => `${JSON.stringify(f.key)}:${f.value}`).join(',')}}`;

function answer(input, keep) {
  const outcome = transform.transform(input, { profile: 'flatten', nonAnalytics: keep ? 'keep' : 'drop' });
  switch (outcome.tag) {
    case 'event':
    case 'kept':
      return { outcome: outcome.tag, json: join(outcome.val) };
    case 'drop':
      return { outcome: 'drop' };
    case 'error': {
      const failure = outcome.val;
      assert.equal(typeof failure.offset, 'bigint');
      assert.ok(failure.reason.includes(`byte ${failure.offset}`), failure.reason);
      return { outcome: 'error', json: join(failure.fields) };
    }
    default:
      throw new Error(`unknown outcome ${outcome.tag}`);
  }
}

for (const keep of [false, true]) {
  const name = keep ? ', keep' : '';
  test(`component: records${name}`, () => {
    assertConforms(`component, records${name}`, keep, cases, (c) => answer({ tag: 'record', val: c.record }, keep));
  });
  test(`component: bare lines${name}`, () => {
    assertConforms(`component, lines${name}`, keep, lineCases, (c) => answer({ tag: 'line', val: c.line }, keep));
  });
}

test('component: ecs and ocsf are usage errors', () => {
  for (const profile of ['ecs', 'ocsf']) {
    assert.throws(
      () => transform.transform({ tag: 'line', val: 'ANALYTICS {}' }, { profile, nonAnalytics: 'drop' }),
      (e) => {
        assert.deepEqual(e.payload, { tag: 'unsupported-profile', val: profile });
        return true;
      },
    );
  }
  const ok = transform.transform({ tag: 'line', val: 'ANALYTICS {"a":{"b":1}}' }, { profile: 'flatten', nonAnalytics: 'drop' });
  assert.deepEqual(ok, { tag: 'event', val: [{ key: 'a.b', value: '1' }] });
});
