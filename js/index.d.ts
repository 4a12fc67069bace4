/**
 * @twingate-analytics/transform — Twingate Connector `ANALYTICS {json}`
 * lines → flat, typed records, with the same WebAssembly core as the Fluent
 * Bit module.
 */

/**
 * The shape of an event's fields.
 *
 * - `"flatten"`: Twingate's own field names, nested objects flattened to
 *   dotted keys (`connection.client_ip`, `user.email`, `location.geoip.city`).
 * - `"ecs"`: Elastic Common Schema 9.x, nested objects (`source.ip` is
 *   `fields.source.ip`); payload fields without an ECS home under `twingate`.
 * - `"ocsf"`: OCSF 1.8.0 Network Activity (class_uid 4001), nested objects;
 *   the rest under `unmapped`.
 */
export type Profile = "flatten" | "ecs" | "ocsf";

export interface TransformOptions {
  /** Default `"flatten"`. An unknown profile throws an `Error`. */
  profile?: Profile;
  /**
   * What to do with a line or record that holds no analytics line:
   * `false` (default) gives `{ outcome: "drop" }`, `true` gives
   * `{ outcome: "kept" }` with the record unchanged.
   */
  keep?: boolean;
  /**
   * Parse the output into `fields` (default `true`). With `false` only the
   * exact `json` text is returned (faster when you write it straight out).
   */
  parse?: boolean;
  /**
   * Parse integers beyond ±(2^53 − 1) as `BigInt` instead of rounding them
   * (default `false`, which uses `JSON.parse`). `json` is always exact.
   */
  bigint?: boolean;
}

/** A field value as parsed from the output JSON. */
export type JsonValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** The output record: top-level keys, each present once. */
export type Fields = { [key: string]: JsonValue };

/** An analytics event: the record without its line key, plus the payload flattened. */
export interface EventResult {
  outcome: "event";
  /** The output record as JSON object text, exactly as the Fluent Bit module writes it. */
  json: string;
  /** `json`, parsed (absent with `parse: false`). */
  fields?: Fields;
}

/** Not analytics, dropped (`keep: false`): nothing to forward. */
export interface DropResult {
  outcome: "drop";
}

/** Not analytics, passed on unchanged (`keep: true`). For a line: `{"log": line}`. */
export interface KeptResult {
  outcome: "kept";
  json: string;
  fields?: Fields;
}

export type ErrorCategory = "not-an-object" | "truncated" | "syntax" | "depth" | "heap";

/** Why an analytics line (or a record) could not be read. */
export interface TransformError {
  /**
   * One line: what was wrong, where (`byte N`) and how to fix it when a fix
   * is known. The same text as `fields["twingate.parse_error"]`.
   */
  reason: string;
  /** 0-based byte offset (UTF-8 bytes) of the problem, in `place`. */
  offset: number;
  /** `"line"`: in the line, after the record's string escapes are decoded; `"record"`: in the record's JSON text. */
  place: "line" | "record";
  category: ErrorCategory;
}

/**
 * A broken event: `ANALYTICS` followed by something that is not one valid
 * JSON object (cut, split at 16 KiB, too deep, ...), or a record that is not
 * a JSON object. `json`/`fields` are the record unchanged plus
 * `twingate.parse_error`: forward them so nothing is lost.
 */
export interface ErrorResult {
  outcome: "error";
  json: string;
  fields?: Fields;
  error: TransformError;
}

export type TransformResult = EventResult | DropResult | KeptResult | ErrorResult;

/**
 * Transforms one connector line (as printed; a trailing `\n`/`\r\n` is
 * ignored), as if the record were `{"log": line}`. `ANALYTICS` starts the
 * line or follows a syslog header and `: `. Bytes are read as UTF-8
 * (invalid sequences become U+FFFD).
 */
export function transformLine(line: string | Uint8Array, options?: TransformOptions): TransformResult;

/**
 * Transforms one log record: a plain object (serialized with
 * `JSON.stringify`, so no `BigInt` values), its JSON text, or that text as
 * UTF-8 bytes. The line is the string under the first of `log`, `message`,
 * `MESSAGE` present (Docker, CRI, journald, Vector).
 */
export function transformRecord(
  record: Record<string, unknown> | string | Uint8Array,
  options?: TransformOptions,
): TransformResult;

/**
 * A transform with its own buffers (the functions above share one). Not
 * faster; use it to keep independent streams apart, and `free()` it when
 * done.
 */
export class Transformer {
  constructor();
  transformLine(line: string | Uint8Array, options?: TransformOptions): TransformResult;
  transformRecord(
    record: Record<string, unknown> | string | Uint8Array,
    options?: TransformOptions,
  ): TransformResult;
  /** Frees the WebAssembly memory now rather than at garbage collection. */
  free(): void;
}
