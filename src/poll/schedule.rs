//! When to poll next: the interval with its floors (RSS `<ttl>`, `Cache-Control: max-age`),
//! exponential backoff after failures, `Retry-After`, and jitter. Pure functions of plain data
//! so the rules are testable without a clock.

use std::time::{Duration, SystemTime};

use xxhash_rust::xxh3::xxh3_64;

use crate::config::ScheduleConfig;
use crate::store::PollStatus;

use super::fetch::Validators;

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

/// What a poll came to, as the schedule sees it: the fetch's outcome once the feed was read.
#[derive(Debug, Clone, PartialEq)]
pub enum PollOutcome {
    /// A document was fetched and read: its validators and the publisher's interval hint
    /// (the larger of RSS `<ttl>` and `Cache-Control: max-age`).
    Read {
        status: Option<u16>,
        validators: Validators,
        hint: Option<Duration>,
    },
    /// Not modified since the last poll (304, or a local file with the same mtime and size).
    NotModified {
        status: Option<u16>,
        max_age: Option<Duration>,
    },
    /// The fetch failed, or the document it gave could not be read (then `status` is the
    /// fetch's, "200" say, and `retry_after` is `None`).
    Failed {
        status: PollStatus,
        message: String,
        retry_after: Option<Duration>,
    },
}

/// What [`apply`] decided for one poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub status: PollStatus,
    /// The failure's message (also the state's `last_error`); `None` on success.
    pub error: Option<String>,
    /// Until the outlet's next poll.
    pub delay: Duration,
    /// Unix seconds of the next poll (also the state's `next_due`).
    pub next_due: i64,
    /// After a `Retry-After`: how long every outlet on the host is left alone.
    pub block_host: Option<Duration>,
}

/// Applies one poll's outcome to an outlet's state: poll count and time, validators, the
/// interval hint, failures (the backoff), last status and error, and the next due time.
/// `interval` is the outlet's own (`[[outlet]] interval`); `name` seeds its jitter. Pure:
/// `now` (Unix seconds) is the only clock.
pub fn apply(
    state: &mut OutletState,
    outcome: PollOutcome,
    interval: Option<Duration>,
    name: &str,
    sched: &ScheduleConfig,
    now: i64,
) -> Applied {
    state.polls += 1;
    state.last_poll = Some(now);
    let (status, failure) = match outcome {
        PollOutcome::NotModified { status, max_age } => {
            if let Some(m) = max_age {
                state.hint_secs = Some(state.hint_secs.unwrap_or(0).max(m.as_secs()));
            }
            (PollStatus::not_modified(status), None)
        }
        PollOutcome::Read {
            status,
            validators,
            hint,
        } => {
            state.etag = validators.etag;
            state.last_modified = validators.last_modified;
            state.hint_secs = hint.map(|h| h.as_secs());
            (PollStatus::fresh(status), None)
        }
        PollOutcome::Failed {
            status,
            message,
            retry_after,
        } => (status, Some((message, retry_after))),
    };
    if failure.is_none() {
        state.failures = 0;
        state.last_error = None;
    }
    let base = base_interval(interval, state.hint_secs.map(Duration::from_secs), sched);
    let seed = format!("{name}\u{1f}{}", state.polls);
    let delay = match &failure {
        None => with_jitter(base, sched.jitter, seed.as_bytes()),
        Some((_, Some(retry_after))) => {
            state.failures = state.failures.saturating_add(1);
            (*retry_after).max(sched.min_interval)
        }
        Some((_, None)) => {
            state.failures = state.failures.saturating_add(1);
            with_jitter(
                backoff(base, state.failures, sched),
                sched.jitter,
                seed.as_bytes(),
            )
        }
    };
    let next_due = now + delay.as_secs() as i64;
    state.next_due = Some(next_due);
    state.last_status = Some(status);
    let (error, block_host) = match failure {
        Some((message, retry_after)) => {
            state.last_error = Some(message.clone());
            (
                Some(message),
                retry_after.map(|ra| ra.max(sched.min_interval)),
            )
        }
        None => (None, None),
    };
    Applied {
        status,
        error,
        delay,
        next_due,
        block_host,
    }
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

    const NOW: i64 = 1_700_000_000;

    fn read(etag: &str, hint: Option<u64>) -> PollOutcome {
        PollOutcome::Read {
            status: Some(200),
            validators: Validators {
                etag: Some(etag.to_string()),
                last_modified: None,
            },
            hint: hint.map(Duration::from_secs),
        }
    }

    fn failed(status: u16, retry_after: Option<u64>) -> PollOutcome {
        PollOutcome::Failed {
            status: PollStatus::failed(Some(status)),
            message: format!("HTTP {status}"),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn a_read_feed_keeps_its_validators_and_hint_and_is_due_after_its_interval() {
        let s = sched();
        let mut st = OutletState::default();
        let a = apply(&mut st, read("\"v1\"", Some(1800)), None, "a", &s, NOW);
        assert_eq!(a.status, "200");
        assert_eq!((a.error, a.block_host), (None, None));
        assert_eq!(st.etag.as_deref(), Some("\"v1\""));
        assert_eq!(st.hint_secs, Some(1800));
        assert!(a.delay >= Duration::from_secs(1800) && a.delay <= Duration::from_secs(1980));
        assert_eq!(st.next_due, Some(a.next_due));
        assert_eq!(a.next_due, NOW + a.delay.as_secs() as i64);
        assert_eq!((st.polls, st.last_poll, st.failures), (1, Some(NOW), 0));
        assert_eq!(st.last_status, Some(PollStatus::fresh(Some(200))));
    }

    #[test]
    fn failures_back_off_and_a_success_resets_them() {
        let s = sched();
        let mut st = OutletState::default();
        let first = apply(
            &mut st,
            failed(500, None),
            Some(Duration::from_secs(600)),
            "a",
            &s,
            NOW,
        );
        assert_eq!(first.error.as_deref(), Some("HTTP 500"));
        assert_eq!(st.last_error.as_deref(), Some("HTTP 500"));
        assert!(first.delay >= Duration::from_secs(600) && first.delay <= Duration::from_secs(660));
        let second = apply(
            &mut st,
            failed(500, None),
            Some(Duration::from_secs(600)),
            "a",
            &s,
            NOW,
        );
        assert_eq!(st.failures, 2);
        assert!(second.delay >= Duration::from_secs(1200), "{second:?}");
        // 304 keeps the validators and raises the hint to max-age.
        st.etag = Some("e".into());
        let ok = PollOutcome::NotModified {
            status: Some(304),
            max_age: Some(Duration::from_secs(7200)),
        };
        let back = apply(&mut st, ok, None, "a", &s, NOW);
        assert_eq!(back.status, "304");
        assert_eq!((st.failures, st.last_error.as_deref()), (0, None));
        assert_eq!((st.etag.as_deref(), st.hint_secs), (Some("e"), Some(7200)));
    }

    #[test]
    fn retry_after_sets_the_delay_and_blocks_the_host() {
        let s = sched();
        let mut st = OutletState::default();
        let a = apply(&mut st, failed(429, Some(120)), None, "a", &s, NOW);
        assert_eq!(a.delay, Duration::from_secs(120));
        assert_eq!(a.block_host, Some(Duration::from_secs(120)));
        let short = apply(&mut st, failed(503, Some(5)), None, "a", &s, NOW);
        assert_eq!(short.delay, s.min_interval, "never below min_interval");
        assert_eq!(short.block_host, Some(s.min_interval));
        assert_eq!(st.failures, 2);
        // A feed fetched but unreadable fails with the fetch's status.
        let unreadable = PollOutcome::Failed {
            status: PollStatus::fresh(Some(200)),
            message: "no items".into(),
            retry_after: None,
        };
        let u = apply(&mut st, unreadable, None, "a", &s, NOW);
        assert_eq!(
            (u.status.as_str(), u.error.as_deref()),
            ("200", Some("no items"))
        );
        assert_eq!(st.failures, 3);
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
