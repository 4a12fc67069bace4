// ECS validation: every field the `ecs` profile writes, over the whole
// corpus (every bare line, raw and after a syslog header), exists in ECS 9.4.0
// with a compatible type, against the field definitions of Elastic's own
// `@elastic/ecs` package. `twingate.*` is our custom namespace (the payload
// fields without an ECS home) and is not checked against ECS.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import { allCases } from './support.mjs';
import { transformLine } from '../index.js';

const { EcsFlat } = createRequire(import.meta.url)('@elastic/ecs/generated/ecs_flat.js');

const STRING_TYPES = new Set(['keyword', 'constant_keyword', 'wildcard', 'match_only_text', 'text']);
const INTEGER_TYPES = new Set(['long', 'integer', 'short', 'byte', 'unsigned_long']);
const NUMBER_TYPES = new Set(['float', 'double', 'scaled_float', 'half_float']);

// Why `value` cannot go in the ECS field `def`, or null when it can.
function typeProblem(def, value) {
  const values = Array.isArray(value) ? value : [value];
  if (Array.isArray(value) && !def.normalize.includes('array')) return 'an array where ECS expects one value';
  for (const v of values) {
    const t = def.type;
    if (STRING_TYPES.has(t) && typeof v !== 'string') return `${JSON.stringify(v)} is not a string (${t})`;
    if (INTEGER_TYPES.has(t) && !Number.isInteger(v)) return `${JSON.stringify(v)} is not an integer (${t})`;
    if (NUMBER_TYPES.has(t) && typeof v !== 'number') return `${JSON.stringify(v)} is not a number (${t})`;
    if (t === 'ip' && !(typeof v === 'string' && isIP(v))) return `${JSON.stringify(v)} is not an IP (ip)`;
    if (t === 'date' && !(typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(v) && !Number.isNaN(Date.parse(v)))) {
      return `${JSON.stringify(v)} is not an RFC 3339 date (date)`;
    }
    if (t === 'geo_point' && !(typeof v?.lat === 'number' && typeof v?.lon === 'number' && Object.keys(v).length === 2)) {
      return `${JSON.stringify(v)} is not {lat, lon} (geo_point)`;
    }
    if (t === 'boolean' && typeof v !== 'boolean') return `${JSON.stringify(v)} is not a boolean`;
    if (!STRING_TYPES.has(t) && !INTEGER_TYPES.has(t) && !NUMBER_TYPES.has(t) && !['ip', 'date', 'geo_point', 'boolean'].includes(t)) {
      return `ECS type ${t} is not checked here: extend the test`;
    }
    const allowed = def.allowed_values?.map((a) => a.name);
    if (allowed && !allowed.includes(v)) return `${JSON.stringify(v)} is not an allowed value (${allowed.join(', ')})`;
  }
  return null;
}

// Every problem of one event: [dotted path, reason].
export function ecsProblems(event) {
  const problems = [];
  const stack = [['', event]];
  while (stack.length) {
    const [prefix, object] = stack.pop();
    for (const [key, value] of Object.entries(object)) {
      const path = prefix + key;
      if (path === 'twingate') continue;
      const def = EcsFlat[path];
      if (def) {
        const problem = typeProblem(def, value);
        if (problem) problems.push([path, problem]);
      } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        stack.push([`${path}.`, value]);
      } else {
        problems.push([path, 'not an ECS field']);
      }
    }
  }
  return problems;
}

test('every ecs event of the corpus has only ECS fields of compatible types', () => {
  const lines = allCases().filter((c) => c.line !== undefined);
  let events = 0;
  const problems = new Map();
  for (const c of lines) {
    const r = transformLine(c.line, { profile: 'ecs' });
    if (r.outcome !== 'event') continue;
    events += 1;
    assert.equal(r.fields.ecs?.version, '9.4.0');
    for (const [path, reason] of ecsProblems(r.fields)) {
      const key = `${path}: ${reason}`;
      if (!problems.has(key)) problems.set(key, `${c.shape} line ${c.lineNo}`);
    }
  }
  assert.ok(events > 2500, `only ${events} events`);
  assert.deepEqual([...problems].map(([k, where]) => `${k} (first: ${where})`), []);
});

test('the ECS check can fail', () => {
  assert.deepEqual(ecsProblems({ source: { ipp: '1.2.3.4' } }), [['source.ipp', 'not an ECS field']]);
  assert.equal(ecsProblems({ source: { ip: 'not-an-ip' } }).length, 1);
  assert.equal(ecsProblems({ destination: { port: '80' } }).length, 1);
  assert.equal(ecsProblems({ event: { kind: 'happening' } }).length, 1);
  assert.equal(ecsProblems({ '@timestamp': '2021-06-10' }).length, 1);
  assert.deepEqual(ecsProblems({ twingate: { anything: 1 }, ecs: { version: '9.4.0' } }), []);
});
