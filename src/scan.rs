//! Word-at-a-time byte scanning with plain 64-bit integer arithmetic.
//!
//! Fluent Bit's WAMR is built without SIMD and interprets every wasm
//! instruction, so finding the next interesting byte eight bytes per step
//! (SWAR) is the cheapest way through long runs of ordinary text. Each finder
//! here has a naive twin in the tests, and property tests check they agree.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte lane of `v` that is zero. Lanes above the first
/// zero lane may also be flagged (borrow), so only the lowest flag is exact,
/// which is all the finders below use.
#[inline(always)]
fn zero_lanes(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

/// Lanes of `w` equal to `b` (lowest flag exact).
#[inline(always)]
fn lanes_eq(w: u64, b: u8) -> u64 {
    zero_lanes(w ^ (LO * b as u64))
}

/// Lanes of `w` below `n` (`n <= 0x80`; lowest flag exact).
#[inline(always)]
fn lanes_below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(LO * n as u64) & !w & HI
}

#[inline(always)]
fn lowest_lane(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// Index of the first byte of `s` that `lanes` flags in its word (the lowest
/// flag exact) and `is` says of it alone (for the last few bytes), or
/// `s.len()`: the one loop every finder below shares.
#[inline(always)]
fn find_by(s: &[u8], lanes: impl Fn(u64) -> u64, is: impl Fn(u8) -> bool) -> usize {
    let (words, rest) = s.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let mask = lanes(u64::from_le_bytes(*word));
        if mask != 0 {
            return i * 8 + lowest_lane(mask);
        }
    }
    let base = words.len() * 8;
    rest.iter()
        .position(|&b| is(b))
        .map_or(s.len(), |i| base + i)
}

/// Bytes that end a run of plain string content: `"`, `\`, a control
/// character (below 0x20) or any non-ASCII byte (which needs UTF-8 checking).
#[inline(always)]
pub fn is_string_special(b: u8) -> bool {
    b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b)
}

#[inline(always)]
fn string_special_lanes(w: u64) -> u64 {
    // `^ 0x02` maps `"` (0x22) to 0x20 and keeps 0x00..=0x1F below 0x20,
    // while nothing else lands below 0x21: one test finds both `"` and the
    // control characters. `| w` flags the non-ASCII bytes.
    (lanes_below(w ^ (LO * 0x02), 0x21) | lanes_eq(w, b'\\') | w) & HI
}

/// Index of the first byte of `s` for which [`is_string_special`] holds, or
/// `s.len()`.
#[inline]
pub fn find_string_special(s: &[u8]) -> usize {
    find_by(s, string_special_lanes, is_string_special)
}

/// Bytes that end a run inside a string once non-ASCII bytes are being
/// handled: `"`, `\` or a control character.
#[inline(always)]
pub fn is_string_delimiter(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// Index of the first `"`, `\` or control character in `s`, or `s.len()`.
#[inline]
pub fn find_string_delimiter(s: &[u8]) -> usize {
    // `"` and the control characters as in `string_special_lanes`;
    // `lanes_below` ignores lanes with the high bit set, which is right:
    // non-ASCII bytes are content here.
    let lanes = |w: u64| lanes_below(w ^ (LO * 0x02), 0x21) | lanes_eq(w, b'\\');
    find_by(s, lanes, is_string_delimiter)
}

/// Index of the first `a` or `b` in `s`, or `s.len()`.
#[inline]
pub fn find_either(s: &[u8], a: u8, b: u8) -> usize {
    find_by(s, |w| lanes_eq(w, a) | lanes_eq(w, b), |c| c == a || c == b)
}

/// Index of the first `a`, `b`, `c` or `d` in `s`, or `s.len()`.
#[inline]
pub fn find_any4(s: &[u8], a: u8, b: u8, c: u8, d: u8) -> usize {
    let lanes = |w: u64| lanes_eq(w, a) | lanes_eq(w, b) | lanes_eq(w, c) | lanes_eq(w, d);
    find_by(s, lanes, |x| x == a || x == b || x == c || x == d)
}

/// Index of the first `"`, `[`, `]`, `{` or `}` in `s`, or `s.len()`: the
/// bytes that matter when skipping a compact JSON value.
#[inline]
pub fn find_structural(s: &[u8]) -> usize {
    // `| 0x20` maps `[` and `]` onto `{` and `}` (and only `\x02` onto `"`,
    // which also counts: the lowest flag stays exact, and JSON text holds
    // no raw control characters anyway).
    let lanes = |w: u64| {
        let w = w | (LO * 0x20);
        lanes_eq(w, b'{') | lanes_eq(w, b'}') | lanes_eq(w, b'"')
    };
    find_by(s, lanes, is_structural)
}

#[inline(always)]
fn is_structural(b: u8) -> bool {
    matches!(b | 0x20, b'{' | b'}' | b'"')
}

/// Number of ASCII digits at the start of `s`, eight bytes per step.
#[inline]
pub fn digit_run(s: &[u8]) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let (words, rest) = s.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        // `^ '0'` maps the digits, and only them, to 0..=9; adding 0x76 to
        // the low seven bits sets a lane's high bit exactly when it is 10 or
        // more (no carry leaves a lane), and `| x` catches the high half.
        let x = u64::from_le_bytes(*word) ^ (LO * b'0' as u64);
        let not_digit = (((x & LOW7) + LO * 0x76) | x) & HI;
        if not_digit != 0 {
            return i * 8 + lowest_lane(not_digit);
        }
    }
    let base = words.len() * 8;
    rest.iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(s.len(), |i| base + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_special(s: &[u8]) -> usize {
        s.iter()
            .position(|&b| is_string_special(b))
            .unwrap_or(s.len())
    }
    fn naive_delimiter(s: &[u8]) -> usize {
        s.iter()
            .position(|&b| is_string_delimiter(b))
            .unwrap_or(s.len())
    }

    #[test]
    fn every_byte_at_every_position_agrees_with_the_naive_scan() {
        for len in 0..20 {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[pos] = b;
                    assert_eq!(find_string_special(&s), naive_special(&s), "{s:?}");
                    assert_eq!(find_string_delimiter(&s), naive_delimiter(&s), "{s:?}");
                    let naive_digits = s.iter().position(|c| !c.is_ascii_digit());
                    let mut digits = s.clone();
                    digits
                        .iter_mut()
                        .filter(|c| **c == b'a')
                        .for_each(|c| *c = b'7');
                    let naive_all_digits = digits.iter().position(|c| !c.is_ascii_digit());
                    assert_eq!(digit_run(&s), naive_digits.unwrap_or(len));
                    assert_eq!(digit_run(&digits), naive_all_digits.unwrap_or(len));
                    let naive_either = s.iter().position(|&c| c == b':' || c == b'{');
                    assert_eq!(find_either(&s, b':', b'{'), naive_either.unwrap_or(len));
                    let naive_structural = s.iter().position(|&c| is_structural(c));
                    assert_eq!(find_structural(&s), naive_structural.unwrap_or(len));
                    let naive_any4 = s.iter().position(|&c| b":{\\\"".contains(&c));
                    assert_eq!(
                        find_any4(&s, b':', b'{', b'\\', b'"'),
                        naive_any4.unwrap_or(len)
                    );
                }
            }
        }
    }

    #[test]
    fn borrow_from_an_earlier_lane_does_not_hide_the_first_match() {
        // 0x00 followed by 0x01 is the classic SWAR false-positive pair.
        let s = [b'a', 0x21, 0x00, 0x01, b'"', b'a', b'a', b'a', b'a'];
        assert_eq!(find_string_special(&s), 2);
        let s = [b'a', b'a', b'a', b'a', b'a', b'a', b'!', b'"', b'\\'];
        assert_eq!(find_string_special(&s), 7);
    }
}
