'use strict';
// @twingate-analytics/transform: Twingate Connector `ANALYTICS {json}`
// lines → flat records, with the same WebAssembly core as the Fluent Bit
// module. `pkg/` is made by wasm-bindgen (see build.sh).

const { RawTransformer } = require('./pkg/twingate_analytics.js');
const { parseBigint } = require('./json.js');

const OUTCOMES = ['event', 'drop', 'kept', 'error'];
const PARSE_ERROR = 'twingate.parse_error';

function settings(options) {
  if (options === undefined || options === null) {
    return { profile: 'flatten', keep: false, parse: true, bigint: false };
  }
  if (typeof options !== 'object') {
    throw new TypeError('options must be an object: { profile, keep, parse, bigint }');
  }
  const profile = options.profile === undefined ? 'flatten' : options.profile;
  if (typeof profile !== 'string') {
    throw new TypeError('options.profile must be a string ("flatten", "ecs" or "ocsf")');
  }
  return {
    profile,
    keep: Boolean(options.keep),
    parse: options.parse === undefined ? true : Boolean(options.parse),
    bigint: Boolean(options.bigint),
  };
}

/**
 * A transform with its own buffers. The module-level functions share one;
 * make your own only to keep separate streams apart (it is not faster).
 */
class Transformer {
  constructor() {
    this._raw = new RawTransformer();
  }

  /** One connector line (string or UTF-8 bytes), as if the record were `{"log": line}`. */
  transformLine(line, options) {
    const o = settings(options);
    let code;
    if (typeof line === 'string') {
      code = this._raw.transformLine(line, o.profile, o.keep);
    } else if (line instanceof Uint8Array) {
      code = this._raw.transformLineBytes(line, o.profile, o.keep);
    } else {
      throw new TypeError('transformLine expects a string or a Uint8Array');
    }
    return this._result(code, o);
  }

  /** One record: a plain object, its JSON text, or that text as UTF-8 bytes. */
  transformRecord(record, options) {
    const o = settings(options);
    let code;
    if (typeof record === 'string') {
      code = this._raw.transformRecord(record, o.profile, o.keep);
    } else if (record instanceof Uint8Array) {
      code = this._raw.transformRecordBytes(record, o.profile, o.keep);
    } else if (record !== null && typeof record === 'object' && !Array.isArray(record)) {
      code = this._raw.transformRecord(JSON.stringify(record), o.profile, o.keep);
    } else {
      throw new TypeError('transformRecord expects an object, a JSON object text or a Uint8Array');
    }
    return this._result(code, o);
  }

  /** Frees the WebAssembly memory now rather than at garbage collection. */
  free() {
    this._raw.free();
  }

  _result(code, o) {
    const outcome = OUTCOMES[code];
    if (outcome === 'drop') return { outcome };
    const json = this._raw.output();
    const result = { outcome, json };
    let fields;
    if (o.parse || outcome === 'error') {
      fields = o.bigint ? parseBigint(json) : JSON.parse(json);
    }
    if (o.parse) result.fields = fields;
    if (outcome === 'error') {
      result.error = {
        reason: fields[PARSE_ERROR],
        offset: this._raw.errorOffset,
        place: this._raw.errorPlace,
        category: this._raw.errorCategory,
      };
    }
    return result;
  }
}

let shared = null;
const instance = () => shared || (shared = new Transformer());

/** See Transformer#transformLine. */
function transformLine(line, options) {
  return instance().transformLine(line, options);
}

/** See Transformer#transformRecord. */
function transformRecord(record, options) {
  return instance().transformRecord(record, options);
}

exports.Transformer = Transformer;
exports.transformLine = transformLine;
exports.transformRecord = transformRecord;
