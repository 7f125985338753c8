//! When to poll next: the interval with its floors (RSS `<ttl>`, `Cache-Control: max-age`),
//! exponential backoff after failures, `Retry-After`, and jitter. Pure functions of plain data
//! so the rules are testable without a clock.

use std::time::{Duration, SystemTime};

use xxhash_rust::xxh3::xxh3_64;

use crate::config::ScheduleConfig;

pub use crate::store::{HostState, OutletState};

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The outlet's regular interval: its own (or the default), raised to the publisher's hint,
/// kept within `[min_interval, max_interval]`.
pub fn base_interval(
    configured: Option<Duration>,
    hint: Option<Duration>,
    s: &ScheduleConfig,
) -> Duration {
    let mut iv = configured.unwrap_or(s.default_interval);
    if let Some(h) = hint {
        iv = iv.max(h);
    }
    iv.clamp(s.min_interval, s.max_interval.max(s.min_interval))
}

/// Delay after `failures` consecutive failures: the interval, doubled per failure after the
/// first, capped at `max_interval`. Never shorter than the interval (no tight retry loop), and
/// never infinite (no silent permanent disable).
pub fn backoff(base: Duration, failures: u32, s: &ScheduleConfig) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    let d = base.saturating_mul(1u32 << doublings);
    d.min(s.max_interval.max(base))
}

/// Adds up to `jitter` share of `d`, derived from `seed` (e.g. outlet name and poll count) so
/// outlets with equal intervals spread out.
pub fn with_jitter(d: Duration, jitter: f64, seed: &[u8]) -> Duration {
    if jitter <= 0.0 {
        return d;
    }
    let u = (xxh3_64(seed) >> 11) as f64 / (1u64 << 53) as f64;
    d + d.mul_f64(jitter.min(1.0) * u)
}

/// A `Retry-After` value: delay-seconds or an HTTP-date, relative to `now`; capped at `cap`.
/// A date in the past means "now" (zero).
pub fn parse_retry_after(value: &str, now: SystemTime, cap: Duration) -> Option<Duration> {
    let v = value.trim();
    let d = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let when = httpdate::parse_http_date(v).ok()?;
        when.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(d.min(cap))
}

/// `max-age` from a `Cache-Control` header; a zero or absent max-age gives `None`.
pub fn parse_max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        let secs: u64 = v.trim().trim_matches('"').parse().ok()?;
        (secs > 0).then(|| Duration::from_secs(secs))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched() -> ScheduleConfig {
        ScheduleConfig {
            default_interval: Duration::from_secs(900),
            min_interval: Duration::from_secs(60),
            max_interval: Duration::from_secs(86400),
            jitter: 0.1,
        }
    }

    #[test]
    fn hints_are_a_floor_and_limits_hold() {
        let s = sched();
        assert_eq!(base_interval(None, None, &s), Duration::from_secs(900));
        let hour = Duration::from_secs(3600);
        assert_eq!(base_interval(None, Some(hour), &s), hour);
        assert_eq!(
            base_interval(Some(hour), Some(Duration::from_secs(60)), &s),
            hour
        );
        assert_eq!(
            base_interval(None, Some(Duration::from_secs(10 * 86400)), &s),
            Duration::from_secs(86400)
        );
        assert_eq!(
            base_interval(Some(Duration::from_secs(1)), None, &s),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = sched();
        let b = Duration::from_secs(900);
        assert_eq!(backoff(b, 1, &s), b);
        assert_eq!(backoff(b, 2, &s), b * 2);
        assert_eq!(backoff(b, 3, &s), b * 4);
        assert_eq!(backoff(b, 40, &s), Duration::from_secs(86400));
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let d = Duration::from_secs(1000);
        let a = with_jitter(d, 0.1, b"a1");
        let b = with_jitter(d, 0.1, b"b1");
        for x in [a, b] {
            assert!(x >= d && x <= Duration::from_secs(1100), "{x:?}");
        }
        assert_ne!(a, b);
        assert_eq!(with_jitter(d, 0.0, b"a"), d);
    }

    #[test]
    fn retry_after_in_both_forms_is_capped() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let cap = Duration::from_secs(3600);
        assert_eq!(
            parse_retry_after("120", now, cap),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("999999", now, cap), Some(cap));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(300));
        assert_eq!(
            parse_retry_after(&later, now, cap),
            Some(Duration::from_secs(300))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(300));
        assert_eq!(parse_retry_after(&past, now, cap), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now, cap), None);
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            parse_max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_max_age("no-cache"), None);
        assert_eq!(parse_max_age("max-age=0"), None);
    }
}
