//! Timestamps: parsing the forms real exports contain into microseconds since
//! the Unix epoch (UTC), and formatting them back.
//!
//! Accepted: RFC 3339 / ISO 8601 with `Z` or an offset (`+02:00`, `+0200`),
//! with `T` or a space, with or without fractional seconds; date-times without
//! an offset (taken as UTC); plain dates (midnight UTC); and epoch numbers,
//! whose unit is inferred from the magnitude (seconds, milliseconds,
//! microseconds or nanoseconds), with an optional fraction for seconds.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
pub const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// Earliest and latest accepted instants (1970-01-01 .. 2200-01-01), so a
/// number in the wrong unit is an error rather than a date in year 50000.
const MIN_MICROS: i64 = 0;
const MAX_MICROS: i64 = 7_258_118_400 * MICROS_PER_SECOND;

/// The longest duration accepted (100 years), so windows and offsets added
/// to timestamps stay far from overflow.
pub const MAX_DURATION: i64 = 36_500 * MICROS_PER_DAY;

/// What a timestamp field is expected to hold, for error messages.
pub const EXPECTED: &str = "an RFC 3339 timestamp (e.g. 2026-05-01T12:00:00Z or 2026-05-01 14:00:00+02:00), a date (2026-05-01), or epoch seconds/milliseconds";

/// Parses a timestamp string into microseconds since the epoch (UTC).
pub fn parse_timestamp(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty timestamp".to_string());
    }
    let micros = if s.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') && !s[1..].contains('-') {
        parse_epoch(s)?
    } else {
        parse_text(s)?
    };
    check_range(micros)
}

/// Interprets a JSON/CSV number as an epoch timestamp.
pub fn from_epoch_number(n: f64) -> Result<i64, String> {
    if !n.is_finite() {
        return Err("timestamp is not a finite number".to_string());
    }
    let abs = n.abs();
    let micros = if abs < 1e11 {
        n * 1e6
    } else if abs < 1e14 {
        n * 1e3
    } else if abs < 1e17 {
        n
    } else {
        n / 1e3
    };
    check_range(micros.round() as i64)
}

fn parse_epoch(s: &str) -> Result<i64, String> {
    let n: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if s.contains('.') {
        // Fractional epoch values are seconds (Unix time with a fraction).
        if n.abs() >= 1e11 {
            return Err(format!("'{s}': fractional epoch values must be seconds"));
        }
        return check_range((n * 1e6).round() as i64);
    }
    from_epoch_number(n)
}

fn parse_text(s: &str) -> Result<i64, String> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.timestamp_micros());
    }
    // Space instead of T, or an offset without a colon.
    const WITH_OFFSET: [&str; 6] = [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f %z",
        "%Y-%m-%d %H:%M:%S%.f %:z",
        "%Y-%m-%dT%H:%M%:z",
    ];
    for f in WITH_OFFSET {
        if let Ok(dt) = DateTime::parse_from_str(s, f) {
            return Ok(dt.timestamp_micros());
        }
    }
    let (body, utc_suffix) = match s.strip_suffix(" UTC").or_else(|| s.strip_suffix('Z')) {
        Some(b) => (b, true),
        None => (s, false),
    };
    let _ = utc_suffix;
    const NAIVE: [&str; 6] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y/%m/%d %H:%M",
    ];
    for f in NAIVE {
        if let Ok(dt) = NaiveDateTime::parse_from_str(body, f) {
            return Ok(Utc.from_utc_datetime(&dt).timestamp_micros());
        }
    }
    for f in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(body, f)
            && let Some(dt) = d.and_hms_opt(0, 0, 0)
        {
            return Ok(Utc.from_utc_datetime(&dt).timestamp_micros());
        }
    }
    Err(format!("'{}' is not a recognised timestamp", truncate(s, 60)))
}

fn check_range(micros: i64) -> Result<i64, String> {
    if (MIN_MICROS..MAX_MICROS).contains(&micros) {
        Ok(micros)
    } else {
        Err("timestamp is outside 1970-01-01 .. 2200-01-01 (wrong unit?)".to_string())
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Formats microseconds as RFC 3339 UTC with millisecond precision.
pub fn format_rfc3339(micros: i64) -> String {
    match Utc.timestamp_micros(micros).single() {
        Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => micros.to_string(),
    }
}

/// Formats microseconds as a calendar date (YYYY-MM-DD, UTC).
pub fn format_date(micros: i64) -> String {
    match Utc.timestamp_micros(micros).single() {
        Some(dt) => dt.format("%Y-%m-%d").to_string(),
        None => micros.to_string(),
    }
}

/// Parses a `--from`/`--to` date or timestamp.
pub fn parse_date_arg(s: &str) -> Result<i64, String> {
    parse_timestamp(s).map_err(|e| format!("{e}; expected {EXPECTED}"))
}

/// A human duration: "42s", "17m", "3.5h", "2.1d".
pub fn format_duration_seconds(secs: f64) -> String {
    if !secs.is_finite() {
        return "–".to_string();
    }
    if secs < 60.0 {
        format!("{secs:.0}s")
    } else if secs < 3600.0 {
        format!("{:.0}m", secs / 60.0)
    } else if secs < 86_400.0 {
        format!("{:.1}h", secs / 3600.0)
    } else {
        format!("{:.1}d", secs / 86_400.0)
    }
}

/// A duration in µs written so that [`parse_duration`] reads it back
/// exactly: in the largest of weeks, days, hours, minutes and seconds that
/// divides it (`90d`, `2w`, `36h`), else in seconds.
pub fn format_duration_exact(micros: i64) -> String {
    for (unit, size) in
        [("w", 7 * MICROS_PER_DAY), ("d", MICROS_PER_DAY), ("h", MICROS_PER_HOUR), ("m", MICROS_PER_MINUTE)]
    {
        if micros != 0 && micros % size == 0 {
            return format!("{}{unit}", micros / size);
        }
    }
    format!("{}s", micros as f64 / MICROS_PER_SECOND as f64)
}

/// Parses a duration such as `7d`, `12h`, `30m`, `45s` or a bare number of
/// seconds, into microseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    // The unit is the trailing letters ("1e3" is 1000 seconds, "1.5e2d" days).
    let split = s.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len();
    let (num, unit) = match &s[split..] {
        "" => (s, "s"),
        unit => (&s[..split], unit),
    };
    let n: f64 =
        num.trim().parse().map_err(|_| format!("'{s}' is not a duration (expected e.g. 7d, 12h, 30m, 3600)"))?;
    let mult = match unit {
        "s" | "sec" | "secs" => MICROS_PER_SECOND,
        "m" | "min" | "mins" => MICROS_PER_MINUTE,
        "h" | "hour" | "hours" => MICROS_PER_HOUR,
        "d" | "day" | "days" => MICROS_PER_DAY,
        "w" | "week" | "weeks" => 7 * MICROS_PER_DAY,
        _ => {
            return Err(format!("'{s}': unknown duration unit '{unit}' (use s, m, h, d or w)"));
        }
    };
    if !(n.is_finite() && n >= 0.0) {
        return Err(format!("'{s}' is not a non-negative duration"));
    }
    let micros = n * mult as f64;
    if micros > MAX_DURATION as f64 {
        return Err(format!("'{s}' is longer than 100 years"));
    }
    Ok(micros.round() as i64)
}

/// Microseconds since the epoch by the machine's clock.
pub fn wall_now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// The time a server lives by: the wall clock, or for simulations an
/// accelerated clock that starts at a given time and runs `speed` times
/// faster than real time (as payment providers' test clocks do). Event
/// times the server stamps, trigger timers and link expiry follow it;
/// logs, health and signatures keep the wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    origin_us: i64,
    wall_origin_us: i64,
    speed: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::wall()
    }
}

impl Clock {
    /// The wall clock.
    pub fn wall() -> Clock {
        Clock { origin_us: 0, wall_origin_us: 0, speed: 1.0 }
    }

    /// A clock that reads `start_us` now and runs `speed` times faster
    /// than the wall clock (`speed` ≥ 1).
    pub fn accelerated(start_us: i64, speed: f64) -> Clock {
        Clock { origin_us: start_us, wall_origin_us: wall_now_us(), speed: speed.max(1.0) }
    }

    /// The clock's time now (µs since the epoch).
    pub fn now_us(&self) -> i64 {
        self.at_wall(wall_now_us())
    }

    /// The clock's time at a wall-clock time.
    pub fn at_wall(&self, wall_us: i64) -> i64 {
        if self.speed == 1.0 && self.origin_us == 0 {
            return wall_us;
        }
        self.origin_us + ((wall_us - self.wall_origin_us) as f64 * self.speed) as i64
    }

    /// How many times faster than the wall clock it runs.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Whether this is the wall clock.
    pub fn is_wall(&self) -> bool {
        *self == Clock::wall()
    }

    /// The real time that a span of the clock's time takes.
    pub fn real(&self, span: std::time::Duration) -> std::time::Duration {
        span.div_f64(self.speed)
    }
}

/// The first `n` bytes of a text (a timestamp's date, a hash's prefix), or
/// all of it when shorter or when `n` does not fall on a character
/// boundary: safe on texts read from files.
pub fn prefix(s: &str, n: usize) -> &str {
    s.get(..n).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefixes_never_cut_a_character_or_run_past_the_end() {
        assert_eq!(super::prefix("2026-08-01T00:00:00Z", 10), "2026-08-01");
        assert_eq!(super::prefix("2026", 10), "2026");
        assert_eq!(super::prefix("août 2026-08", 3), "août 2026-08", "3 bytes end inside the û");
    }

    use super::*;

    const T: i64 = 1_767_225_600 * MICROS_PER_SECOND; // 2026-01-01T00:00:00Z

    #[test]
    fn rfc3339_with_offsets() {
        assert_eq!(parse_timestamp("2026-01-01T00:00:00Z"), Ok(T));
        assert_eq!(parse_timestamp("2026-01-01T02:00:00+02:00"), Ok(T));
        assert_eq!(parse_timestamp("2025-12-31T19:00:00-05:00"), Ok(T));
        assert_eq!(parse_timestamp("2026-01-01 02:00:00+0200"), Ok(T));
        assert_eq!(parse_timestamp("2026-01-01T00:00:00.250Z"), Ok(T + 250_000));
        assert_eq!(parse_timestamp("2026-01-01 00:00:00"), Ok(T));
        assert_eq!(parse_timestamp("2026-01-01T00:00"), Ok(T));
        assert_eq!(parse_timestamp("2026-01-01"), Ok(T));
        assert_eq!(parse_timestamp("2026-01-01 00:00:00 UTC"), Ok(T));
    }

    #[test]
    fn epoch_units_by_magnitude() {
        assert_eq!(parse_timestamp("1767225600"), Ok(T));
        assert_eq!(parse_timestamp("1767225600000"), Ok(T));
        assert_eq!(parse_timestamp("1767225600000000"), Ok(T));
        assert_eq!(parse_timestamp("1767225600.5"), Ok(T + 500_000));
        assert_eq!(from_epoch_number(1_767_225_600_000.0), Ok(T));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_timestamp("").is_err());
        assert!(parse_timestamp("yesterday").is_err());
        assert!(parse_timestamp("2026-13-01").is_err());
        assert!(parse_timestamp("-5").is_err());
        assert!(parse_timestamp("99999999999999999999999").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(7 * MICROS_PER_DAY));
        assert_eq!(parse_duration("3600"), Ok(MICROS_PER_HOUR));
        assert_eq!(parse_duration("30m"), Ok(30 * MICROS_PER_MINUTE));
        assert!(parse_duration("7x").is_err());
        assert!(parse_duration("1e308d").unwrap_err().contains("100 years"));
        assert_eq!(parse_duration("1e3"), Ok(1000 * MICROS_PER_SECOND));
        assert_eq!(parse_duration("1.5h"), Ok(90 * MICROS_PER_MINUTE));
        assert_eq!(parse_duration("36500d"), Ok(MAX_DURATION));
        assert_eq!(format_rfc3339(T), "2026-01-01T00:00:00.000Z");
        assert_eq!(format_date(T), "2026-01-01");
    }

    #[test]
    fn an_accelerated_clock_runs_faster_from_its_start() {
        let c = Clock::accelerated(1_000_000, 3600.0);
        let w = c.wall_origin_us;
        assert_eq!(c.at_wall(w), 1_000_000);
        // One real second is an hour.
        assert_eq!(c.at_wall(w + MICROS_PER_SECOND), 1_000_000 + MICROS_PER_HOUR);
        assert_eq!(c.real(std::time::Duration::from_secs(3600)), std::time::Duration::from_secs(1));
        let wall = Clock::wall();
        assert!(wall.is_wall() && !c.is_wall());
        assert_eq!(wall.at_wall(123), 123);
    }
}
