// The package's API: options, input types, result shapes, exact numbers.

import './support.mjs'; // checks the package is built and fresh
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Transformer, transformLine, transformRecord } from '../index.js';
import { createRequire } from 'node:module';

const { parseExact, parseBigint } = createRequire(import.meta.url)('../json.js');

const LINE =
  'ANALYTICS {"event_type":"closed_connection","timestamp":1623288585643,' +
  '"connection":{"rx":18446744073709551616,"client_ip":"1.2.3.4","client_geo":{"country":{"iso_code":"US"}}},' +
  '"relays":[{"ip":"32.127.13.179","name":"relaybalancer+https:\\/\\/relays.twingate.com","port":30000}],' +
  '"location":"{\\"geoip\\":{\\"city\\":\\"Seattle\\"}}","user":{"email":"\\u00e9@example.com"}}';

test('an event: flattened fields in order, exact json', () => {
  const r = transformLine(LINE);
  assert.equal(r.outcome, 'event');
  assert.deepEqual(Object.keys(r.fields), [
    'event_type',
    'timestamp',
    'connection.rx',
    'connection.client_ip',
    'connection.client_geo.country.iso_code',
    'relays',
    'location.geoip.city',
    'user.email',
  ]);
  assert.equal(r.fields['relays'][0].name, 'relaybalancer+https://relays.twingate.com');
  assert.equal(r.fields['user.email'], 'é@example.com');
  assert.equal(r.fields['location.geoip.city'], 'Seattle');
  assert.ok(r.json.includes('"connection.rx":18446744073709551616'), r.json);
  // JSON.parse rounds it; bigint keeps it.
  assert.equal(typeof r.fields['connection.rx'], 'number');
  const exact = transformLine(LINE, { bigint: true });
  assert.equal(exact.fields['connection.rx'], 18446744073709551616n);
  assert.equal(exact.fields.timestamp, 1623288585643);
});

test('a record keeps its own fields first and loses its line key', () => {
  const r = transformRecord({ stream: 'stdout', log: `${LINE}\n`, time: 't' });
  assert.equal(r.outcome, 'event');
  assert.deepEqual(Object.keys(r.fields).slice(0, 3), ['stream', 'time', 'event_type']);
  assert.equal(r.fields.log, undefined);
});

test('drop, keep and the line key order', () => {
  const service = '[INFO] [connector] State: Online';
  assert.deepEqual(transformLine(service), { outcome: 'drop' });
  assert.deepEqual(transformLine(service, { keep: true, parse: false }), {
    outcome: 'kept',
    json: JSON.stringify({ log: service }),
  });
  const record = '{"MESSAGE":"ANALYTICS {\\"a\\":1}","_SYSTEMD_UNIT":"twingate-connector.service"}';
  assert.deepEqual(transformRecord(record).fields, { _SYSTEMD_UNIT: 'twingate-connector.service', a: 1 });
  // `analytics` in lower case and `ANALYTICSX` are not analytics.
  assert.equal(transformLine('[ERROR] Failed to submit analytics events: {"error":true}').outcome, 'drop');
  assert.equal(transformLine('ANALYTICSX {"a":1}').outcome, 'drop');
});

test('a broken event says what and where, and keeps the record', () => {
  const cut = LINE.slice(0, 100);
  const r = transformRecord({ log: cut, stream: 'stdout' });
  assert.equal(r.outcome, 'error');
  assert.deepEqual(r.error, {
    reason: r.fields['twingate.parse_error'],
    offset: 100,
    place: 'line',
    category: 'truncated',
  });
  assert.match(r.error.reason, /byte 100.*multiline\.parser/);
  assert.equal(r.fields.log, cut);
  const notJson = transformRecord('ANALYTICS {}');
  assert.equal(notJson.outcome, 'error');
  assert.equal(notJson.error.place, 'record');
  assert.equal(notJson.error.category, 'not-an-object');
  assert.equal(notJson.fields['twingate.record'], 'ANALYTICS {}');
  // The next call clears the error.
  assert.equal(transformLine(LINE).error, undefined);
});

test('bytes: invalid UTF-8 becomes U+FFFD, never an error', () => {
  const bytes = Buffer.concat([Buffer.from('ANALYTICS {"user":{"email":"a'), Buffer.from([0xff]), Buffer.from('"}}')]);
  const r = transformLine(bytes);
  assert.equal(r.outcome, 'event');
  assert.equal(r.fields['user.email'], 'a\ufffd');
});

test('profiles: flatten is the default; ecs and ocsf nest; others are unknown', () => {
  assert.equal(transformLine(LINE, { profile: 'flatten' }).outcome, 'event');
  const ecs = transformLine(LINE, { profile: 'ecs' });
  assert.equal(ecs.outcome, 'event');
  assert.equal(ecs.fields.ecs.version, '9.4.0');
  assert.deepEqual(ecs.fields.event.category, ['network']);
  const ocsf = transformLine(LINE, { profile: 'ocsf' });
  assert.equal(ocsf.outcome, 'event');
  assert.equal(ocsf.fields.class_uid, 4001);
  assert.equal(ocsf.fields.type_uid, 400100 + ocsf.fields.activity_id);
  assert.throws(() => transformLine(LINE, { profile: 'splunk' }), { message: /unknown profile "splunk"/ });
  assert.throws(() => transformLine(LINE, { profile: 1 }), TypeError);
  // Still usable after a throw.
  assert.equal(transformLine(LINE).outcome, 'event');
});

test('bad inputs are TypeErrors', () => {
  assert.throws(() => transformLine(42), TypeError);
  assert.throws(() => transformRecord([1]), TypeError);
  assert.throws(() => transformRecord(null), TypeError);
  assert.throws(() => transformLine(LINE, 'keep'), TypeError);
});

test('separate transformers do not share results', () => {
  const a = new Transformer();
  const b = new Transformer();
  const ra = a.transformLine(LINE, { parse: false });
  b.transformLine('ANALYTICS {', { parse: false });
  assert.equal(a.transformLine(LINE, { parse: false }).json, ra.json);
  a.free();
  b.free();
});

test('the exact parser agrees with JSON.parse and keeps big integers', () => {
  const samples = [
    '{"a":[1,-0,2.5e3,-1.25E-2,true,false,null,"x\\u00e9\\ud83d\\ude00\\/\\"",{}],"b":{"c":[]}}',
    ' [ 1 , "\\\\" ] ',
    '"__proto__"',
    '{"__proto__":{"x":1}}',
  ];
  for (const s of samples) assert.deepEqual(parseExact(s), JSON.parse(s), s);
  assert.equal(Object.keys(parseExact('{"__proto__":1}'))[0], '__proto__');
  assert.equal(parseExact('9007199254740993'), 9007199254740993n);
  assert.equal(parseExact('-9007199254740993'), -9007199254740993n);
  assert.equal(parseExact('9007199254740991'), 9007199254740991);
  assert.equal(parseExact('1e400'), Infinity);
  assert.equal(parseBigint('{"n":123}').n, 123);
  assert.equal(parseBigint('{"n":12345678901234567890}').n, 12345678901234567890n);
  assert.deepEqual(parseExact('{"a":1,"a":2}'), { a: 2 });
  for (const bad of ['{"a":1,"a":2}']) assert.throws(() => parseExact(bad, { duplicateKeys: 'reject' }), SyntaxError);
  for (const bad of ['', '{', '[1,]', '{"a" 1}', '01', '"abc', '{} x', 'nul']) {
    assert.throws(() => parseExact(bad), SyntaxError, bad);
  }
});
