// The streaming example turns the corpus log into the NDJSON the contract
// asks for: one object per event or broken line, in order, nothing else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { allCases, check, corpusDir } from './support.mjs';

const example = fileURLToPath(new URL('../examples/ndjson.mjs', import.meta.url));

function run(args, input) {
  const r = spawnSync(process.execPath, [example, ...args], { input, maxBuffer: 1 << 28, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.split('\n');
  assert.equal(out.pop(), '', 'output ends with a newline');
  return { lines: out, summary: r.stderr };
}

for (const [shape, args] of [
  ['raw', [`${corpusDir}connector.log`]],
  ['syslog', ['--keep', `${corpusDir}syslog.log`]],
  ['docker', ['--records', `${corpusDir}docker.log`]],
]) {
  test(`ndjson example: ${shape} (${args.join(' ')})`, () => {
    const keep = args.includes('--keep');
    const cases = allCases().filter((c) => c.shape === shape);
    const { lines, summary } = run(args);
    const written = cases.filter((c) => keep || c.expected.outcome !== 'drop');
    assert.equal(lines.length, written.length);
    const failures = [];
    written.forEach((c, i) => {
      const outcome = { event: 'event', error: 'error', drop: 'kept' }[c.expected.outcome];
      const why = check(c, keep, { outcome, json: lines[i] });
      if (why !== null) failures.push(`line ${c.lineNo}: ${why}`);
    });
    assert.deepEqual(failures.slice(0, 5), []);
    const count = (o) => cases.filter((c) => c.expected.outcome === o).length;
    assert.match(summary, new RegExp(`${count('event')} events, ${count('error')} broken analytics lines`));
  });
}

test('ndjson example reads stdin, CRLF and a last line without newline', () => {
  const { lines } = run([], 'ANALYTICS {"a":1}\r\n[INFO] x\r\nANALYTICS {"b":{"c":2}}');
  assert.deepEqual(lines, ['{"a":1}', '{"b.c":2}']);
});
