//! Per-caller rate limiting: each caller (a verified token's organization, subject and
//! integration) may make `TANDEM_RATE_LIMIT` requests a second, in bursts of up to
//! `TANDEM_RATE_LIMIT_BURST` (GCRA, through `governor`).
//!
//! It is checked right after the token is verified and before anything reads the database, so
//! a caller over its rate costs no query; only verified tokens get a bucket, so forged ones
//! cannot fill memory. The access log's middleware ([`scope`]) carries the decision to the
//! response as `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`; a refusal
//! is a 429 with `Retry-After`.

use std::cell::RefCell;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use uuid::Uuid;

use crate::auth::Claims;
use crate::error::whole_seconds;

/// Who a bucket belongs to.
type Key = (String, String, Option<Uuid>);

/// A verdict that let the request through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The burst: requests a caller may make at once.
    pub limit: u32,
    /// Requests left in the burst after this one.
    pub remaining: u32,
    /// Until the burst is whole again.
    pub reset: Duration,
}

/// The limiter of one server.
#[derive(Debug)]
pub struct RateLimit {
    limiter:
        RateLimiter<Key, DefaultKeyedStateStore<Key>, DefaultClock, StateInformationMiddleware>,
    clock: DefaultClock,
    per_second: NonZeroU32,
    burst: NonZeroU32,
}

impl RateLimit {
    /// A limit of `per_second` requests a second per caller in bursts of `burst`; `None` (no
    /// limit) when `per_second` is 0. A burst below the rate is raised to it.
    #[must_use]
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        let per_second = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst.max(per_second.get())).unwrap_or(per_second);
        let clock = DefaultClock::default();
        let limiter = RateLimiter::dashmap_with_clock(
            Quota::per_second(per_second).allow_burst(burst),
            clock.clone(),
        )
        .with_middleware::<StateInformationMiddleware>();
        Some(Self {
            limiter,
            clock,
            per_second,
            burst,
        })
    }

    /// Counts one request of the caller `claims` name: its admission, or how long it must
    /// wait.
    ///
    /// # Errors
    /// The wait until the caller may make its next request.
    pub fn admit(&self, claims: &Claims) -> Result<Admission, Duration> {
        let key = (claims.org.clone(), claims.sub.clone(), claims.integration);
        match self.limiter.check_key(&key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let missing = self.burst.get().saturating_sub(remaining);
                Ok(Admission {
                    limit: self.burst.get(),
                    remaining,
                    reset: Duration::from_secs_f64(
                        f64::from(missing) / f64::from(self.per_second.get()),
                    ),
                })
            }
            Err(refused) => Err(refused.wait_time_from(self.clock.now())),
        }
    }

    /// What a refusal tells the caller: nothing left of the burst, whole again in `wait` plus
    /// the time to refill it.
    #[must_use]
    pub fn refused(&self, wait: Duration) -> Admission {
        Admission {
            limit: self.burst.get(),
            remaining: 0,
            reset: wait
                + Duration::from_secs_f64(
                    f64::from(self.burst.get()) / f64::from(self.per_second.get()),
                ),
        }
    }

    /// Drops the buckets of callers that are back to a whole burst, so memory follows the
    /// callers active in the last moments, not every caller ever seen.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Callers with a bucket now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// Whether no caller has a bucket.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

tokio::task_local! {
    static LAST: RefCell<Option<Admission>>;
}

/// Runs `request` so that an admission made while it runs can be read back by
/// [`headers_for`] (the access log middleware wraps each request in it).
pub async fn scope<F: Future>(request: F) -> (F::Output, Option<Admission>) {
    LAST.scope(RefCell::new(None), async move {
        let output = request.await;
        (output, LAST.with(|last| *last.borrow()))
    })
    .await
}

/// Notes `admission` for the request running now (nothing outside [`scope`]: a WebSocket
/// connection's later messages).
pub fn note(admission: Admission) {
    let _ = LAST.try_with(|last| *last.borrow_mut() = Some(admission));
}

/// Adds the `X-RateLimit-*` headers of `admission` to `headers`.
pub fn add_headers(headers: &mut HeaderMap, admission: Admission) {
    for (name, value) in [
        ("x-ratelimit-limit", u64::from(admission.limit)),
        ("x-ratelimit-remaining", u64::from(admission.remaining)),
        ("x-ratelimit-reset", whole_seconds(admission.reset)),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entities::enums::Role;

    fn claims(sub: &str) -> Claims {
        Claims {
            sub: sub.to_owned(),
            org: "org".to_owned(),
            role: Role::Viewer,
            exp: u64::MAX,
            iat: None,
            integration: None,
            iss: None,
            aud: None,
        }
    }

    #[test]
    fn a_caller_gets_its_burst_then_waits_and_others_are_not_affected() {
        let limit = RateLimit::new(2, 5).expect("a limit");
        let alice = claims("alice");
        let remaining: Vec<u32> = (0..5)
            .map(|_| limit.admit(&alice).expect("within the burst").remaining)
            .collect();
        assert_eq!(remaining, [4, 3, 2, 1, 0]);
        let wait = limit.admit(&alice).expect_err("over the burst");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert_eq!(whole_seconds(wait), 1);
        assert_eq!(limit.admit(&claims("bob")).map(|a| a.remaining), Ok(4));
        assert_eq!(limit.len(), 2);
        assert!(RateLimit::new(0, 10).is_none(), "0 turns it off");
    }
}
