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

test('component: ecs and ocsf give their schemas, with the same outcomes', () => {
  const line = { tag: 'line', val: 'ANALYTICS {"event_type":"established_connection","timestamp":1623288585643}' };
  const ecs = transform.transform(line, { profile: 'ecs', nonAnalytics: 'drop' });
  assert.equal(ecs.tag, 'event');
  const ecsFields = Object.fromEntries(ecs.val.map((f) => [f.key, JSON.parse(f.value)]));
  assert.equal(ecsFields['@timestamp'], '2021-06-10T01:29:45.643Z');
  assert.equal(ecsFields.ecs.version, '9.4.0');
  const ocsf = transform.transform(line, { profile: 'ocsf', nonAnalytics: 'drop' });
  const ocsfFields = Object.fromEntries(ocsf.val.map((f) => [f.key, JSON.parse(f.value)]));
  assert.equal(ocsfFields.type_uid, 400101);
  for (const profile of ['ecs', 'ocsf']) {
    const service = { tag: 'line', val: '[INFO] [connector] State: Online' };
    assert.equal(transform.transform(service, { profile, nonAnalytics: 'drop' }).tag, 'drop');
    assert.equal(transform.transform(service, { profile, nonAnalytics: 'keep' }).tag, 'kept');
  }
  const ok = transform.transform({ tag: 'line', val: 'ANALYTICS {"a":{"b":1}}' }, { profile: 'flatten', nonAnalytics: 'drop' });
  assert.deepEqual(ok, { tag: 'event', val: [{ key: 'a.b', value: '1' }] });
});
