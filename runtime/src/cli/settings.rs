//! The operator's settings as the command line reads them: each refused at
//! start, with what it takes, when it is out of range.

use std::time::Duration;

use crate::schedule::DAY;

/// A length of time: `1d`, `12h`, `30m`, `90s` or seconds.
fn seconds(arg: &str) -> Result<i64, String> {
    let arg = arg.trim();
    let (number, unit) = arg.split_at(arg.find(|c: char| !c.is_ascii_digit()).unwrap_or(arg.len()));
    let n: i64 = number.parse().map_err(|_| format!("`{arg}` is not a length of time like 1d, 12h, 30m or 90s"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => DAY,
        _ => return Err(format!("`{arg}`: the unit must be d, h, m or s")),
    };
    n.checked_mul(scale).ok_or_else(|| format!("`{arg}` is far too long"))
}

/// How often a connection syncs: a minute to a year.
pub fn interval(arg: &str) -> Result<i64, String> {
    match seconds(arg)? {
        s if s < 60 => Err(format!("`{arg}` is shorter than a minute")),
        s if s > 365 * DAY => Err(format!("`{arg}` is longer than a year")),
        s => Ok(s),
    }
}

/// How long one sync may take: a second to a week.
pub fn deadline(arg: &str) -> Result<Duration, String> {
    match seconds(arg)? {
        s if s < 1 => Err(format!("`{arg}` is shorter than a second")),
        s if s > 7 * DAY => Err(format!("`{arg}` is longer than a week")),
        s => Ok(Duration::from_secs(s as u64)),
    }
}

/// How long users' history is kept: a day to ten years.
pub fn retention(arg: &str) -> Result<i64, String> {
    match seconds(arg)? {
        s if s < DAY => Err(format!("`{arg}` is shorter than a day")),
        s if s > 3650 * DAY => Err(format!("`{arg}` is longer than ten years")),
        s => Ok(s),
    }
}

/// How far back to look: a minute to ten years.
pub fn retention_window(arg: &str) -> Result<i64, String> {
    match seconds(arg)? {
        s if s < 60 => Err(format!("`{arg}` is shorter than a minute")),
        s if s > 3650 * DAY => Err(format!("`{arg}` is longer than ten years")),
        s => Ok(s),
    }
}

/// How long a lease lasts unless renewed: 3 seconds to a day.
pub fn lease(arg: &str) -> Result<i64, String> {
    match seconds(arg)? {
        s if s < 3 => Err(format!("`{arg}` is shorter than 3 seconds")),
        s if s > DAY => Err(format!("`{arg}` is longer than a day")),
        s => Ok(s),
    }
}

/// An integration's cap: `NAME=N`, at most N of its connections syncing at once, 1 to 10000.
pub fn cap(arg: &str) -> Result<(String, usize), String> {
    let Some((name, n)) = arg.split_once('=') else {
        return Err(format!("`{arg}` is not INTEGRATION=N, like okta=4"));
    };
    match n.trim().parse::<usize>() {
        Ok(n @ 1..=10_000) if !name.trim().is_empty() => Ok((name.trim().to_owned(), n)),
        _ => Err(format!("`{arg}`: the cap is an integration's name, `=`, and a number from 1 to 10000")),
    }
}

/// A share of an account's users: above 0, at most 1.
pub fn share(arg: &str) -> Result<f64, String> {
    let value: f64 = arg.trim().parse().map_err(|_| format!("`{arg}` is not a number"))?;
    if value > 0.0 && value <= 1.0 { Ok(value) } else { Err(format!("`{arg}` is not above 0 and at most 1")) }
}

/// The PEM certificates of a file (a company's own certificate authority), read once at start.
pub fn certificates(arg: &str) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(arg).map_err(|e| format!("cannot read `{arg}`: {e}"))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!("`{arg}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
    }
    Ok(pem)
}

/// A number of bytes: `32MiB`, `512KiB`, `1GiB` or bytes; 1 KiB to 4 GiB.
pub fn size(arg: &str) -> Result<u64, String> {
    let arg = arg.trim();
    let (number, unit) = arg.split_at(arg.find(|c: char| !c.is_ascii_digit()).unwrap_or(arg.len()));
    let n: u64 = number.parse().map_err(|_| format!("`{arg}` is not a size like 32MiB, 512KiB or 1048576"))?;
    let scale = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1 << 10,
        "MiB" | "M" | "MB" => 1 << 20,
        "GiB" | "G" | "GB" => 1 << 30,
        _ => return Err(format!("`{arg}`: the unit must be KiB, MiB or GiB")),
    };
    match n.checked_mul(scale) {
        Some(bytes) if (1 << 10..=4 << 30).contains(&bytes) => Ok(bytes),
        _ => Err(format!("`{arg}` is not between 1KiB and 4GiB")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_people_write_them() {
        assert_eq!(interval("1d"), Ok(86_400));
        assert_eq!(interval("12h"), Ok(43_200));
        assert_eq!(interval("30m"), Ok(1_800));
        assert_eq!(interval("3600"), Ok(3_600));
        assert!(interval("10s").is_err());
        assert!(interval("1w").is_err());
        assert!(interval("d").is_err());
        assert_eq!(interval("366d"), Err("`366d` is longer than a year".to_owned()));
        assert_eq!(interval("200000000000000d"), Err("`200000000000000d` is far too long".to_owned()));
        assert!(interval("99999999999999999999").is_err(), "more than an i64 holds");
    }

    #[test]
    fn every_setting_out_of_range_is_refused_with_what_it_takes() {
        assert_eq!(share("0.5"), Ok(0.5));
        assert_eq!(share("1"), Ok(1.0));
        for bad in ["0", "-0.1", "1.5", "NaN", "inf", "half"] {
            assert!(share(bad).is_err(), "{bad}");
        }
        assert_eq!(deadline("6h"), Ok(Duration::from_secs(21_600)));
        assert_eq!(deadline("2"), Ok(Duration::from_secs(2)));
        assert!(deadline("0").is_err() && deadline("8d").is_err());
        assert_eq!(size("32MiB"), Ok(32 << 20));
        assert_eq!(size("512KiB"), Ok(512 << 10));
        assert_eq!(size("4096"), Ok(4096));
        assert!(size("12").is_err() && size("5GiB").is_err() && size("1TiB").is_err());
        assert!(size("18446744073709551615GiB").is_err(), "overflow is refused, not wrapped");
        assert_eq!(lease("5m"), Ok(300));
        assert!(lease("2").is_err() && lease("2d").is_err());
        assert_eq!(cap("okta=4"), Ok(("okta".to_owned(), 4)));
        for bad in ["okta", "okta=0", "=3", "okta=x", "okta=10001"] {
            assert!(cap(bad).is_err(), "{bad}");
        }
    }
}
