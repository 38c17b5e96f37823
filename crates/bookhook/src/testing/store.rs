//! The [`IdempotencyStore`] contract, as async checks that any store must pass.
//!
//! Each check takes a [`StoreHarness`], which gives the store and a way to let
//! time pass, and panics with a message naming the broken rule. Every check
//! uses keys under its own random prefix, so checks can share a store, and
//! several runs can share one server.
//!
//! Leases and TTLs in the checks are one second, and the harness is asked to
//! advance time by 1.1 s at most, a few times per check: a harness for a
//! networked store can simply sleep. A harness for an in-memory store moves a
//! [`ManualClock`](crate::ManualClock).
//!
//! ```
//! use std::time::Duration;
//! use bookhook::testing::store::{self, StoreHarness};
//! use bookhook::{endpoint::ManualClock, idempotency::{BoxFuture, MemoryStore}};
//!
//! struct Memory {
//!     clock: ManualClock,
//!     store: MemoryStore,
//! }
//!
//! impl StoreHarness for Memory {
//!     type Store = MemoryStore;
//!
//!     fn store(&self) -> &MemoryStore {
//!         &self.store
//!     }
//!
//!     fn advance(&self, by: Duration) -> BoxFuture<'_, ()> {
//!         self.clock.advance(by);
//!         Box::pin(std::future::ready(()))
//!     }
//! }
//!
//! let clock = ManualClock::at_unix(1_700_000_000);
//! let store = MemoryStore::builder().clock(clock.clone()).build().unwrap();
//! let harness = Memory { clock, store };
//! let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! runtime.block_on(store::run_all(&harness));
//! ```

use std::time::Duration;

use futures_util::future::join_all;

use crate::error::StoreError;
use crate::idempotency::{BoxFuture, Claim, ClaimToken, Freshness, IdempotencyStore, Observation};

/// The lease given to claims in the checks.
pub const LEASE: Duration = Duration::from_secs(1);

/// The short TTL given to done keys and appointment records that a check lets
/// expire.
pub const SHORT_TTL: Duration = Duration::from_secs(1);

/// How far checks advance time to outlive [`LEASE`] or [`SHORT_TTL`].
pub const OUTLIVE: Duration = Duration::from_millis(1_100);

/// A TTL that no check outlives.
const LONG_TTL: Duration = Duration::from_secs(60);

/// Concurrent claims in [`concurrent_claims_admit_exactly_one`].
const CONCURRENT_CLAIMS: usize = 64;

/// A store under test, and a way to let time pass for it.
pub trait StoreHarness {
    /// The store under test.
    type Store: IdempotencyStore;

    /// The store under test. Every call returns the same store.
    fn store(&self) -> &Self::Store;

    /// Lets at least `by` pass for the store: moves its clock, or sleeps.
    fn advance(&self, by: Duration) -> BoxFuture<'_, ()>;
}

/// Runs every check in this module, one after the other.
pub async fn run_all<H: StoreHarness>(h: &H) {
    claim_is_exclusive(h).await;
    done_key_reports_done(h).await;
    release_lets_retry_through(h).await;
    expired_lease_lets_later_copy_through(h).await;
    stale_token_complete_is_noop(h).await;
    complete_without_live_claim_is_noop(h).await;
    stale_token_release_is_noop(h).await;
    done_expires_after_ttl(h).await;
    observe_reports_stale_and_keeps_max(h).await;
    observe_record_expires_after_ttl(h).await;
    keys_and_appointments_do_not_collide(h).await;
    concurrent_claims_admit_exactly_one(h).await;
    claim_and_observe_observes_only_when_claimed(h).await;
}

/// A second claim of a key whose lease is live is [`Claim::InFlight`].
pub async fn claim_is_exclusive<H: StoreHarness>(h: &H) {
    let key = Keys::new("claim_is_exclusive").key("evt");
    let first = claim(h, &key, LEASE).await;
    expect_claimed(first, "first claim of a new key");
    let second = claim(h, &key, LEASE).await;
    assert_eq!(
        second,
        Claim::InFlight,
        "a second claim while the first lease is live must be InFlight"
    );
}

/// A completed key is [`Claim::Done`] for every later claim within its TTL.
pub async fn done_key_reports_done<H: StoreHarness>(h: &H) {
    let key = Keys::new("done_key_reports_done").key("evt");
    let token = expect_claimed(claim(h, &key, LEASE).await, "first claim of a new key");
    complete(h, &key, token, LONG_TTL).await;
    for attempt in 1..=2 {
        assert_eq!(
            claim(h, &key, LEASE).await,
            Claim::Done,
            "claim #{attempt} after complete must be Done"
        );
    }
}

/// A released key can be claimed again, with a new token.
pub async fn release_lets_retry_through<H: StoreHarness>(h: &H) {
    let key = Keys::new("release_lets_retry_through").key("evt");
    let first = expect_claimed(claim(h, &key, LEASE).await, "first claim of a new key");
    release(h, &key, first).await;
    let second = expect_claimed(
        claim(h, &key, LEASE).await,
        "claim after the owner released the key",
    );
    assert_ne!(first, second, "a new claim must get a new token");
}

/// Once a lease runs out, the next copy of the delivery is claimed.
pub async fn expired_lease_lets_later_copy_through<H: StoreHarness>(h: &H) {
    let key = Keys::new("expired_lease_lets_later_copy_through").key("evt");
    let first = expect_claimed(claim(h, &key, LEASE).await, "first claim of a new key");
    h.advance(OUTLIVE).await;
    let second = expect_claimed(
        claim(h, &key, LEASE).await,
        "claim after the first lease expired",
    );
    assert_ne!(first, second, "a new claim must get a new token");
    assert_eq!(
        claim(h, &key, LEASE).await,
        Claim::InFlight,
        "the new claim's lease must be live"
    );
}

/// Completing with a token whose lease expired, after someone else claimed the
/// key, changes nothing; the new owner can still complete.
pub async fn stale_token_complete_is_noop<H: StoreHarness>(h: &H) {
    let key = Keys::new("stale_token_complete_is_noop").key("evt");
    let stale = expect_claimed(claim(h, &key, LEASE).await, "first claim of a new key");
    h.advance(OUTLIVE).await;
    let owner = expect_claimed(
        claim(h, &key, LEASE).await,
        "claim after the first lease expired",
    );
    complete(h, &key, stale, LONG_TTL).await;
    assert_eq!(
        claim(h, &key, LEASE).await,
        Claim::InFlight,
        "complete with a stale token must not mark the key done"
    );
    complete(h, &key, owner, LONG_TTL).await;
    assert_eq!(
        claim(h, &key, LEASE).await,
        Claim::Done,
        "complete by the current owner must mark the key done"
    );
}

/// Completing a key that no live claim holds (released, expired, or never
/// claimed with that token) does not mark it done.
pub async fn complete_without_live_claim_is_noop<H: StoreHarness>(h: &H) {
    let keys = Keys::new("complete_without_live_claim_is_noop");

    let released = keys.key("released");
    let token = expect_claimed(claim(h, &released, LEASE).await, "claim of a new key");
    release(h, &released, token).await;
    complete(h, &released, token, LONG_TTL).await;
    expect_claimed(
        claim(h, &released, LEASE).await,
        "complete after release must not mark the key done; claim",
    );

    let unknown = keys.key("unknown");
    complete(h, &unknown, ClaimToken::random(), LONG_TTL).await;
    expect_claimed(
        claim(h, &unknown, LEASE).await,
        "complete of a never-claimed key must not mark it done; claim",
    );

    let expired = keys.key("expired");
    let token = expect_claimed(claim(h, &expired, LEASE).await, "claim of a new key");
    h.advance(OUTLIVE).await;
    complete(h, &expired, token, LONG_TTL).await;
    expect_claimed(
        claim(h, &expired, LEASE).await,
        "complete after the lease expired must not mark the key done; claim",
    );
}

/// Releasing with a token that no longer owns the key changes nothing: not a
/// newer claim, and not a done key.
pub async fn stale_token_release_is_noop<H: StoreHarness>(h: &H) {
    let keys = Keys::new("stale_token_release_is_noop");

    let key = keys.key("reclaimed");
    let stale = expect_claimed(claim(h, &key, LEASE).await, "first claim of a new key");
    h.advance(OUTLIVE).await;
    let owner = expect_claimed(
        claim(h, &key, LEASE).await,
        "claim after the first lease expired",
    );
    release(h, &key, stale).await;
    assert_eq!(
        claim(h, &key, LEASE).await,
        Claim::InFlight,
        "release with a stale token must not free a newer claim"
    );
    release(h, &key, ClaimToken::random()).await;
    assert_eq!(
        claim(h, &key, LEASE).await,
        Claim::InFlight,
        "release with a foreign token must not free a claim"
    );
    complete(h, &key, owner, LONG_TTL).await;
    assert_eq!(
        claim(h, &key, LEASE).await,
        Claim::Done,
        "the current owner must still be able to complete"
    );

    let done = keys.key("done");
    let token = expect_claimed(claim(h, &done, LEASE).await, "claim of a new key");
    complete(h, &done, token, LONG_TTL).await;
    release(h, &done, token).await;
    assert_eq!(
        claim(h, &done, LEASE).await,
        Claim::Done,
        "release after complete must not forget that the key is done"
    );
}

/// A done key is forgotten after its TTL, and can be claimed again.
pub async fn done_expires_after_ttl<H: StoreHarness>(h: &H) {
    let key = Keys::new("done_expires_after_ttl").key("evt");
    let token = expect_claimed(claim(h, &key, LEASE).await, "first claim of a new key");
    complete(h, &key, token, SHORT_TTL).await;
    assert_eq!(
        claim(h, &key, LEASE).await,
        Claim::Done,
        "the key must be done within its TTL"
    );
    h.advance(OUTLIVE).await;
    expect_claimed(
        claim(h, &key, LEASE).await,
        "claim after the done TTL expired",
    );
}

/// `observe` keeps the newest time per appointment: an older time is
/// [`Freshness::Stale`] and leaves the record alone, an equal or newer one is
/// [`Freshness::Latest`]. Appointments are independent.
pub async fn observe_reports_stale_and_keeps_max<H: StoreHarness>(h: &H) {
    let keys = Keys::new("observe_reports_stale_and_keeps_max");
    let appt = keys.key("appt");
    let steps: [(i64, Freshness, &str); 6] = [
        (100, Freshness::Latest, "first observation"),
        (
            50,
            Freshness::Stale { newer_seen_at: 100 },
            "an older time than the newest seen",
        ),
        (100, Freshness::Latest, "a time equal to the newest seen"),
        (200, Freshness::Latest, "a newer time"),
        (
            150,
            Freshness::Stale { newer_seen_at: 200 },
            "a time between two seen ones",
        ),
        (
            199,
            Freshness::Stale { newer_seen_at: 200 },
            "a stale time must not lower the record",
        ),
    ];
    for (at, expected, what) in steps {
        assert_eq!(
            observe(h, &appt, at, LONG_TTL).await,
            expected,
            "observe({at}): {what}"
        );
    }
    let other = keys.key("other-appt");
    assert_eq!(
        observe(h, &other, 10, LONG_TTL).await,
        Freshness::Latest,
        "another appointment's record must not affect this one"
    );
}

/// An appointment record is forgotten after its TTL.
pub async fn observe_record_expires_after_ttl<H: StoreHarness>(h: &H) {
    let appt = Keys::new("observe_record_expires_after_ttl").key("appt");
    assert_eq!(
        observe(h, &appt, 200, SHORT_TTL).await,
        Freshness::Latest,
        "first observation"
    );
    assert_eq!(
        observe(h, &appt, 100, SHORT_TTL).await,
        Freshness::Stale { newer_seen_at: 200 },
        "an older time within the TTL"
    );
    h.advance(OUTLIVE).await;
    assert_eq!(
        observe(h, &appt, 100, SHORT_TTL).await,
        Freshness::Latest,
        "after the TTL the record must be forgotten"
    );
}

/// An idempotency key and an appointment with the same name are different
/// records.
pub async fn keys_and_appointments_do_not_collide<H: StoreHarness>(h: &H) {
    let name = Keys::new("keys_and_appointments_do_not_collide").key("same");
    let token = expect_claimed(claim(h, &name, LEASE).await, "first claim of a new key");
    assert_eq!(
        observe(h, &name, 5, LONG_TTL).await,
        Freshness::Latest,
        "a claimed key must not read as an appointment record"
    );
    assert_eq!(
        claim(h, &name, LEASE).await,
        Claim::InFlight,
        "an appointment record must not replace a claim"
    );
    complete(h, &name, token, LONG_TTL).await;
    assert_eq!(
        observe(h, &name, 1, LONG_TTL).await,
        Freshness::Stale { newer_seen_at: 5 },
        "completing a key must not touch the appointment record"
    );
    assert_eq!(
        claim(h, &name, LEASE).await,
        Claim::Done,
        "an appointment record must not replace a done key"
    );
}

/// Of 64 concurrent claims of one new key, exactly one is
/// [`Claim::Claimed`]; the others are [`Claim::InFlight`].
pub async fn concurrent_claims_admit_exactly_one<H: StoreHarness>(h: &H) {
    let key = Keys::new("concurrent_claims_admit_exactly_one").key("evt");
    let claims = (0..CONCURRENT_CLAIMS).map(|_| h.store().claim(&key, LEASE));
    let results = join_all(claims).await;
    let mut claimed = 0;
    for result in results {
        match ok(result, "concurrent claim") {
            Claim::Claimed(_) => claimed += 1,
            Claim::InFlight => {}
            Claim::Done => panic!("concurrent claim of a new key returned Done"),
        }
    }
    assert_eq!(
        claimed, 1,
        "exactly one of {CONCURRENT_CLAIMS} concurrent claims must be Claimed"
    );
}

/// `claim_and_observe` records the appointment only when the key is claimed,
/// and reports freshness only then.
pub async fn claim_and_observe_observes_only_when_claimed<H: StoreHarness>(h: &H) {
    let keys = Keys::new("claim_and_observe_observes_only_when_claimed");
    let key = keys.key("evt");
    let appt = keys.key("appt");
    let at = |occurred_at_ms| {
        Some(Observation {
            appointment: &appt,
            occurred_at_ms,
            ttl: LONG_TTL,
        })
    };

    let (first, freshness) = claim_and_observe(h, &key, at(100)).await;
    let token = expect_claimed(first, "claim_and_observe of a new key");
    assert_eq!(freshness, Freshness::Latest, "first observation is Latest");

    let (second, freshness) = claim_and_observe(h, &key, at(300)).await;
    assert_eq!(second, Claim::InFlight, "a copy while the lease is live");
    assert_eq!(
        freshness,
        Freshness::Latest,
        "a copy that is not claimed reports Latest"
    );
    assert_eq!(
        observe(h, &appt, 200, LONG_TTL).await,
        Freshness::Latest,
        "a copy that was not claimed must not record its time"
    );

    complete(h, &key, token, LONG_TTL).await;
    let (done, freshness) = claim_and_observe(h, &key, at(50)).await;
    assert_eq!(done, Claim::Done, "a copy after complete");
    assert_eq!(
        freshness,
        Freshness::Latest,
        "a done copy reports Latest without observing"
    );

    let late = keys.key("late-evt");
    let (claimed, freshness) = claim_and_observe(h, &late, at(150)).await;
    expect_claimed(claimed, "claim_and_observe of another new key");
    assert_eq!(
        freshness,
        Freshness::Stale { newer_seen_at: 200 },
        "a claimed event older than the newest seen is Stale"
    );

    let bare = keys.key("no-appointment-evt");
    let (claimed, freshness) = claim_and_observe(h, &bare, None).await;
    expect_claimed(claimed, "claim_and_observe without an appointment");
    assert_eq!(
        freshness,
        Freshness::Latest,
        "an event without an appointment is Latest"
    );
}

/// A random prefix for one check's keys.
struct Keys(String);

impl Keys {
    fn new(check: &str) -> Self {
        let run = ClaimToken::random().as_u128() as u64;
        Keys(format!("bookhook-contract:{run:016x}:{check}"))
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.0)
    }
}

fn ok<T>(result: Result<T, StoreError>, what: &str) -> T {
    result.unwrap_or_else(|err| panic!("{what}: store error: {err}"))
}

fn expect_claimed(claim: Claim, what: &str) -> ClaimToken {
    match claim {
        Claim::Claimed(token) => token,
        other => panic!("{what}: expected Claimed, got {other:?}"),
    }
}

async fn claim<H: StoreHarness>(h: &H, key: &str, lease: Duration) -> Claim {
    ok(h.store().claim(key, lease).await, "claim")
}

async fn complete<H: StoreHarness>(h: &H, key: &str, token: ClaimToken, ttl: Duration) {
    ok(h.store().complete(key, token, ttl).await, "complete");
}

async fn release<H: StoreHarness>(h: &H, key: &str, token: ClaimToken) {
    ok(h.store().release(key, token).await, "release");
}

async fn observe<H: StoreHarness>(h: &H, appt: &str, at: i64, ttl: Duration) -> Freshness {
    ok(h.store().observe(appt, at, ttl).await, "observe")
}

async fn claim_and_observe<H: StoreHarness>(
    h: &H,
    key: &str,
    appointment: Option<Observation<'_>>,
) -> (Claim, Freshness) {
    ok(
        h.store().claim_and_observe(key, LEASE, appointment).await,
        "claim_and_observe",
    )
}
