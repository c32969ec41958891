//! Timestamps as mqadmin spells them: milliseconds since the epoch, `now`,
//! or `yyyy-MM-dd#HH:mm:ss:SSS`. The calendar form is read and written in
//! UTC (mqadmin uses the JVM's zone; servers mostly run in UTC and a fixed
//! zone keeps scripts reproducible).

use anyhow::{bail, Context, Result};
use protocol::message::msgid::{civil_from_days, days_from_civil};

pub use protocol::clock::now_ms;

/// Parses `-s`: `now`, an integer of milliseconds (negative allowed: -1 is
/// "the max offset" to the broker), or `yyyy-MM-dd#HH:mm:ss:SSS` (the
/// `:SSS` part may be left out).
///
/// # Errors
/// Any other text, naming the accepted forms.
pub fn parse_timestamp(text: &str) -> Result<i64> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now_ms());
    }
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    parse_calendar(t).with_context(|| {
        format!(
            "bad timestamp {text:?}: expected milliseconds, `now` or \
             yyyy-MM-dd#HH:mm:ss:SSS (UTC)"
        )
    })
}

fn parse_calendar(t: &str) -> Result<i64> {
    let Some((date, time)) = t.split_once('#') else {
        bail!("no '#' between date and time");
    };
    let d: Vec<&str> = date.split('-').collect();
    let h: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || !(h.len() == 3 || h.len() == 4) {
        bail!("wrong number of fields");
    }
    let num = |s: &str, name: &str, lo: i64, hi: i64| -> Result<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            bail!("{name} {s:?} is not a number");
        }
        let v: i64 = s.parse().with_context(|| format!("{name} {s:?}"))?;
        if v < lo || v > hi {
            bail!("{name} {v} is outside {lo}..={hi}");
        }
        Ok(v)
    };
    let year = num(d[0], "year", 1970, 9999)?;
    let month = num(d[1], "month", 1, 12)?;
    let day = num(d[2], "day", 1, days_in_month(year, month))?;
    let hour = num(h[0], "hour", 0, 23)?;
    let minute = num(h[1], "minute", 0, 59)?;
    let second = num(h[2], "second", 0, 59)?;
    let milli = match h.get(3) {
        Some(s) => num(s, "millisecond", 0, 999)?,
        None => 0,
    };
    let days = days_from_civil(year, month, day);
    Ok(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli)
}

/// `yyyy-MM-dd#HH:mm:ss:SSS` in UTC, the form `-s` accepts back; `-` for
/// values at or before the epoch (brokers send 0 or -1 for "none").
pub fn format_ms(ms: i64) -> String {
    if ms <= 0 {
        return "-".to_string();
    }
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}#{:02}:{:02}:{:02}:{:03}",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_pass_through() {
        assert_eq!(parse_timestamp("1700000000123").unwrap(), 1_700_000_000_123);
        assert_eq!(parse_timestamp("-1").unwrap(), -1);
    }

    #[test]
    fn calendar_form_is_utc() {
        assert_eq!(parse_timestamp("1970-01-01#00:00:00:000").unwrap(), 0);
        // 2023-11-14T22:13:20.123Z
        assert_eq!(
            parse_timestamp("2023-11-14#22:13:20:123").unwrap(),
            1_700_000_000_123
        );
        assert_eq!(
            parse_timestamp("2024-02-29#12:00:00").unwrap(),
            1_709_208_000_000
        );
    }

    #[test]
    fn now_is_close_to_the_clock() {
        let got = parse_timestamp("now").unwrap();
        assert!((got - now_ms()).abs() < 5_000);
    }

    #[test]
    fn bad_forms_are_rejected_with_the_expected_forms_named() {
        for bad in [
            "",
            "yesterday",
            "2023-11-14",
            "2023-11-14 22:13:20:123",
            "2023-13-01#00:00:00:000",
            "2023-02-29#00:00:00:000",
            "2023-01-01#24:00:00:000",
            "2023-01-01#00:00:00:1000",
            "2023-01-01#0a:00:00:000",
        ] {
            let err = parse_timestamp(bad).unwrap_err();
            assert!(
                format!("{err:#}").contains("yyyy-MM-dd#HH:mm:ss:SSS"),
                "{bad}: {err:#}"
            );
        }
    }

    #[test]
    fn format_round_trips() {
        for ms in [
            1i64,
            86_399_999,
            951_782_400_000,
            1_700_000_000_123,
            4_102_444_800_000,
        ] {
            assert_eq!(
                parse_timestamp(&format_ms(ms)).unwrap(),
                ms,
                "{}",
                format_ms(ms)
            );
        }
        assert_eq!(format_ms(1_700_000_000_123), "2023-11-14#22:13:20:123");
        assert_eq!(format_ms(0), "-");
        assert_eq!(format_ms(-1), "-");
    }
}
