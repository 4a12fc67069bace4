#!/usr/bin/env node
// Turns a Twingate Connector log into NDJSON, streaming: one JSON object per
// analytics event (and per broken analytics line, marked with
// `twingate.parse_error`), service lines dropped.
//
//   node examples/ndjson.mjs connector.log > events.ndjson
//   docker logs my-connector 2>&1 | node examples/ndjson.mjs > events.ndjson
//   node examples/ndjson.mjs --records docker.log    # one JSON record a line (Docker json-file, journalctl -o json)
//   node examples/ndjson.mjs --keep connector.log    # keep service lines too, as {"log": line}
//
// A summary goes to stderr. Exit status 0, or 1 when the input can't be read.

import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { Transformer } from '@twingate-analytics/transform';

const args = process.argv.slice(2);
const records = args.includes('--records');
const keep = args.includes('--keep');
const files = args.filter((a) => !a.startsWith('--'));
if (files.length > 1) {
  process.stderr.write('usage: ndjson.mjs [--records] [--keep] [FILE]\n');
  process.exit(2);
}

const input = files.length === 1 ? createReadStream(files[0]) : process.stdin;
input.on('error', (e) => {
  process.stderr.write(`ndjson: ${e.message}\n`);
  process.exit(1);
});

const transformer = new Transformer();
const options = { keep, parse: false }; // `json` is all we write: no parsing
const counts = { event: 0, drop: 0, kept: 0, error: 0 };

// `head` closing the pipe early is not an error.
process.stdout.on('error', (e) => process.exit(e.code === 'EPIPE' ? 0 : 1));

/** The input's lines as bytes, split at `\n` only (a `\r` before it is
 *  ignored by the transform; invalid UTF-8 becomes U+FFFD there). */
async function* lines(stream) {
  let rest = Buffer.alloc(0);
  for await (const chunk of stream) {
    const buffer = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let end = buffer.indexOf(10, start); end !== -1; end = buffer.indexOf(10, start)) {
      yield buffer.subarray(start, end);
      start = end + 1;
    }
    rest = buffer.subarray(start);
  }
  if (rest.length > 0) yield rest;
}

const blank = (bytes) => bytes.every((b) => b === 32 || b === 9 || b === 13);

for await (const line of lines(input)) {
  if (records && blank(line)) continue;
  const result = records ? transformer.transformRecord(line, options) : transformer.transformLine(line, options);
  counts[result.outcome] += 1;
  if (result.outcome !== 'drop' && !process.stdout.write(`${result.json}\n`)) {
    await once(process.stdout, 'drain');
  }
}

process.stderr.write(
  `ndjson: ${counts.event} events, ${counts.error} broken analytics lines, ` +
    `${keep ? `${counts.kept} other lines kept` : `${counts.drop} other lines dropped`}\n`,
);
