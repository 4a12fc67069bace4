//! Is this line an analytics line? Decided from its first bytes, before any
//! JSON is parsed, so service lines cost almost nothing.
//!
//! An analytics line is the word `ANALYTICS` at the start of the line, or
//! after a syslog-style header and `: ` (the header at most 512 bytes, with no
//! `{`), followed by a space or a tab, or by nothing (a broken event).
//! `ANALYTICSX ...`, ` ANALYTICS ...` and `analytics ...` are not.

use crate::scan::{find_any4, find_either};

const WORD: &[u8] = b"ANALYTICS";
const HEADER_SEPARATOR: &[u8] = b": ANALYTICS";
/// The longest syslog header accepted before `: ANALYTICS`.
pub(crate) const MAX_HEADER: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Analytics {
    /// The syslog header ends here (the `: ` not included), if there is one.
    pub header_end: Option<usize>,
    /// Where the JSON should start: after the word and its blanks.
    pub body: usize,
}

/// The line without its trailing `\n` / `\r\n` (any run of them).
pub(crate) fn strip_line_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line.get(end - 1), Some(b'\n' | b'\r')) {
        end -= 1;
    }
    line.get(..end).unwrap_or_default()
}

/// Recognizes an analytics line; `line` has no line ending.
pub(crate) fn recognize(line: &[u8]) -> Option<Analytics> {
    if line.starts_with(WORD) {
        return after_word(line, WORD.len(), None);
    }
    // The first `: ANALYTICS` within the header limit, before any `{`.
    let window = line.get(..line.len().min(MAX_HEADER + 1)).unwrap_or(line);
    let mut at = 0;
    loop {
        at += find_either(window.get(at..).unwrap_or_default(), b':', b'{');
        match window.get(at) {
            Some(b':')
                if line
                    .get(at..)
                    .is_some_and(|l| l.starts_with(HEADER_SEPARATOR)) =>
            {
                return after_word(line, at + HEADER_SEPARATOR.len(), Some(at));
            }
            Some(b':') => at += 1,
            _ => return None,
        }
    }
}

/// A shortcut for the drop path: true when the raw text of a JSON string
/// (from just after its opening quote; escapes not decoded; the string ends
/// at the first unescaped `"`) certainly does not hold an analytics line.
/// It reads no further than the decision needs, so most service lines are
/// dropped without reading, let alone decoding, all of them. False means
/// "decode and recognize": the line may be analytics, or the raw text alone
/// cannot tell (a `\u` escape, escapes in a long line, no closing quote).
pub(crate) fn clearly_not_analytics(raw: &[u8]) -> bool {
    if raw.starts_with(WORD) {
        return false;
    }
    let window = raw.get(..raw.len().min(MAX_HEADER + 1)).unwrap_or(raw);
    let mut escaped = false;
    let mut at = 0;
    loop {
        at += find_any4(
            window.get(at..).unwrap_or_default(),
            b':',
            b'{',
            b'\\',
            b'"',
        );
        match (window.get(at), raw.get(at + 1)) {
            // Escapes are skipped whole, so raw `:` and `{` are decoded ones.
            (Some(b':'), _)
                if raw
                    .get(at..)
                    .is_some_and(|r| r.starts_with(HEADER_SEPARATOR)) =>
            {
                return false;
            }
            (Some(b':'), _) => at += 1,
            // A `{` before any `: ANALYTICS`, or the end of the line.
            (Some(b'{' | b'"'), _) => return true,
            (Some(_), Some(b'u')) | (Some(_), None) => return false,
            (Some(_), Some(_)) => {
                escaped = true;
                at += 2;
            }
            // 513 bytes without an escape and without `: ANALYTICS`: the
            // header would be too long. With escapes, or at the end of the
            // text, the raw bytes cannot tell.
            (None, _) => return !escaped && window.len() < raw.len(),
        }
    }
}

fn after_word(line: &[u8], mut at: usize, header_end: Option<usize>) -> Option<Analytics> {
    match line.get(at) {
        None => {}
        Some(b' ' | b'\t') => {
            while let Some(b' ' | b'\t') = line.get(at) {
                at += 1;
            }
        }
        Some(_) => return None,
    }
    Some(Analytics {
        header_end,
        body: at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: &str) -> Option<Analytics> {
        recognize(line.as_bytes())
    }

    const fn bare(body: usize) -> Option<Analytics> {
        Some(Analytics {
            header_end: None,
            body,
        })
    }

    #[test]
    fn the_bare_word_with_a_space_or_tab() {
        assert_eq!(rec(r#"ANALYTICS {"a":1}"#), bare(10));
        assert_eq!(rec("ANALYTICS\t {}"), bare(11));
        assert_eq!(rec("ANALYTICS   {}"), bare(12));
    }

    #[test]
    fn the_word_alone_is_a_broken_event() {
        assert_eq!(rec("ANALYTICS"), bare(9));
        assert_eq!(rec("ANALYTICS "), bare(10));
    }

    #[test]
    fn look_alikes_are_not_analytics() {
        for line in [
            r#"ANALYTICSX {"a":1}"#,
            r#" ANALYTICS {"leading":"space"}"#,
            r#"analytics {"not":"the prefix"}"#,
            "[ERROR] [connector] Failed to submit analytics events: Unexpected error",
            r#"Response was: {"error":true,"status":403}"#,
            r#"[2026-03-18 19:40:55] [metrics] {"ts":"x"}"#,
            "ANALYTICS:{}",
            "",
        ] {
            assert_eq!(rec(line), None, "{line}");
        }
    }

    #[test]
    fn after_a_syslog_header() {
        let line = r#"Nov 24 12:00:05 edge-01 twingate-connector[812]: ANALYTICS {"a":1}"#;
        let header = "Nov 24 12:00:05 edge-01 twingate-connector[812]".len();
        assert_eq!(
            rec(line),
            Some(Analytics {
                header_end: Some(header),
                body: header + 12
            })
        );
        assert_eq!(
            rec(": ANALYTICS {}"),
            Some(Analytics {
                header_end: Some(0),
                body: 12
            })
        );
    }

    #[test]
    fn header_rules() {
        // A `{` in the header: it is some other JSON-carrying line.
        assert_eq!(rec(r#"x {y}: ANALYTICS {"a":1}"#), None);
        // Only the first `: ANALYTICS` counts.
        assert_eq!(rec(r#"h: ANALYTICSX b: ANALYTICS {"a":1}"#), None);
        // The header may be 512 bytes, not 513.
        let ok = "h".repeat(512) + ": ANALYTICS {}";
        assert_eq!(
            rec(&ok),
            Some(Analytics {
                header_end: Some(512),
                body: 524
            })
        );
        let long = "h".repeat(513) + ": ANALYTICS {}";
        assert_eq!(rec(&long), None);
    }

    #[test]
    fn the_raw_shortcut_never_rejects_what_recognize_accepts() {
        let lines = [
            r"[INFO] [connector] State: Online\n",
            r#"Response was: {\"error\":true}\n"#,
            r#"ANALYTICS {\"a\":1}\n"#,
            r#"Nov 24 h t[1]: ANALYTICS {\"a\":1}\n"#,
            r"\u0041NALYTICS {}",
            r"h\u003a ANALYTICS {}",
            r"h: \u0041NALYTICS {}",
            r"x\n: ANALYTICS {}",
            r"plain",
            r"",
            r"\r\n",
            r#"[INFO] [connector] processing \"health\" request\n"#,
            r#"a\"b\\: ANALYTICS {}"#,
            r#"a\tb: ANALYTICS\t{}"#,
        ];
        for raw in lines {
            let mut decoded = Vec::new();
            crate::json::string(
                format!("{raw}\"").as_bytes(),
                0,
                &mut decoded,
                crate::json::Strings::Decode,
            )
            .unwrap();
            let analytics = recognize(strip_line_end(&decoded)).is_some();
            let raw = format!("{raw}\",\"stream\":\"stdout\"}}");
            assert!(
                !(analytics && clearly_not_analytics(raw.as_bytes())),
                "{raw}"
            );
        }
        assert!(clearly_not_analytics(
            br#"[INFO] [connector] State: Online\n","s":1}"#
        ));
        assert!(clearly_not_analytics(
            br#"Response was: {\"error\":true}\n"}"#
        ));
        assert!(!clearly_not_analytics(br#"\u0041NALYTICS {}"}"#));
        assert!(clearly_not_analytics(
            br#"[INFO] [connector] processing \"health\" request\n"}"#
        ));
        // No closing quote: the record is broken, let the full path say so.
        assert!(!clearly_not_analytics(
            br"[INFO] [connector] State: Online\n"
        ));
        // Escapes shorten the decoded text: a long raw window is inconclusive.
        let long = "\\\"".repeat(200) + &"h".repeat(150) + ": ANALYTICS {}";
        assert!(!clearly_not_analytics(long.as_bytes()));
    }

    #[test]
    fn line_endings_are_stripped_together() {
        assert_eq!(strip_line_end(b"x\r\n"), b"x");
        assert_eq!(strip_line_end(b"x \r"), b"x ");
        assert_eq!(strip_line_end(b"\n\n"), b"");
    }
}
