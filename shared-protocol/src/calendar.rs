//! [`Timestamp`]s as calendar dates in UTC, for people and for formats that want
//! RFC 3339. UTC needs no time-zone database, so this is plain arithmetic.

use crate::Timestamp;

/// A moment in UTC, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl UtcDateTime {
    /// The second a timestamp falls in: milliseconds are dropped, not rounded, also
    /// before 1970.
    pub fn from_timestamp(ms: Timestamp) -> Self {
        let secs = ms.div_euclid(1000);
        let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Days since 1970-01-01 to a civil date in the proleptic Gregorian calendar,
        // counting in 400-year eras that start on 1 March, so a leap day falls at the
        // end of its era-year and the month lengths before it repeat every year.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        // Each value below is within its field's range by construction.
        let small = |v: i64| u8::try_from(v).unwrap_or(u8::MAX);
        Self {
            year,
            month: small(month),
            day: small(day),
            hour: small(rest / 3600),
            minute: small(rest % 3600 / 60),
            second: small(rest % 60),
        }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn rfc3339(&self) -> String {
        let Self { year, month, day, hour, minute, second } = self;
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }

    /// `YYYY-MM-DD HH:MM:SS`, for a terminal.
    pub fn readable(&self) -> String {
        let Self { year, month, day, hour, minute, second } = self;
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: Timestamp) -> String {
        UtcDateTime::from_timestamp(ms).rfc3339()
    }

    #[test]
    fn timestamps_become_utc_calendar_dates() {
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00Z", "a leap day of a 400-year leap year");
        assert_eq!(at(1_709_210_096_000), "2024-02-29T12:34:56Z", "a leap day of a 4-year leap year");
        assert_eq!(at(4_107_542_400_000), "2100-03-01T00:00:00Z", "2100 is no leap year");
        assert_eq!(at(1_796_665_261_999), "2026-12-07T17:41:01Z", "milliseconds are dropped, not rounded");
        assert_eq!(at(-1), "1969-12-31T23:59:59Z", "before the epoch, the second it falls in");
        assert_eq!(UtcDateTime::from_timestamp(1_796_665_261_999).readable(), "2026-12-07 17:41:01");
    }
}
