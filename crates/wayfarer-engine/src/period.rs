//! Calendar periods in UTC: days, ISO weeks (starting Monday) and months,
//! for cohorts, lifecycles and trends.

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use wayfarer_core::time::MICROS_PER_DAY;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s.to_ascii_lowercase().as_str() {
            "day" | "daily" | "d" => Some(Period::Day),
            "week" | "weekly" | "w" => Some(Period::Week),
            "month" | "monthly" | "m" => Some(Period::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// A number for the period containing `ts` (µs): consecutive periods have
    /// consecutive numbers.
    pub fn number(self, ts: i64) -> i64 {
        let day = ts.div_euclid(MICROS_PER_DAY);
        match self {
            Period::Day => day,
            // 1970-01-01 was a Thursday; Monday 1969-12-29 is day -3.
            Period::Week => (day + 3).div_euclid(7),
            Period::Month => {
                let d = NaiveDate::from_num_days_from_ce_opt(719_163 + day as i32).unwrap_or(NaiveDate::MIN);
                d.year() as i64 * 12 + d.month0() as i64
            }
        }
    }

    /// The first instant (µs) of period number `n`.
    pub fn start(self, n: i64) -> i64 {
        match self {
            Period::Day => n * MICROS_PER_DAY,
            Period::Week => (n * 7 - 3) * MICROS_PER_DAY,
            Period::Month => {
                let (y, m) = (n.div_euclid(12) as i32, n.rem_euclid(12) as u32 + 1);
                Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().map_or(0, |d| d.timestamp_micros())
            }
        }
    }

    /// The period's first day as YYYY-MM-DD.
    pub fn label(self, n: i64) -> String {
        wayfarer_core::time::format_date(self.start(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wayfarer_core::time::parse_timestamp;

    fn t(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn iso_weeks_start_on_monday_utc() {
        let sunday = Period::Week.number(t("2026-01-04T23:59:59Z"));
        let monday = Period::Week.number(t("2026-01-05T00:00:00Z"));
        assert_eq!(monday, sunday + 1);
        assert_eq!(Period::Week.label(monday), "2026-01-05");
        assert_eq!(Period::Week.label(sunday), "2025-12-29", "the week crossing the new year starts in December");
        // A Thursday 1970-01-01 belongs to the week of Monday 1969-12-29.
        assert_eq!(Period::Week.start(Period::Week.number(0)), -3 * MICROS_PER_DAY);
    }

    #[test]
    fn days_and_months() {
        let a = Period::Day.number(t("2026-02-28T23:59:59.999Z"));
        assert_eq!(Period::Day.number(t("2026-03-01T00:00:00Z")), a + 1);
        let dec = Period::Month.number(t("2025-12-31T12:00:00Z"));
        let jan = Period::Month.number(t("2026-01-01T00:00:00Z"));
        assert_eq!(jan, dec + 1);
        assert_eq!(Period::Month.label(jan), "2026-01-01");
        assert_eq!(Period::Month.label(dec), "2025-12-01");
        assert_eq!(Period::parse("Weekly"), Some(Period::Week));
    }
}
