//! Password hashing with argon2id, bounded so that a burst of logins cannot exhaust memory or
//! starve the async runtime.
//!
//! Parameters (OWASP's first recommended argon2id configuration): memory 19456 KiB (19 MiB),
//! 2 iterations, 1 lane, 16-byte random salt, 32-byte output, stored as a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). Each hash or verification takes 19 MiB
//! of memory while it runs; at most `max_concurrent` run at once, each on a blocking thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use tokio::sync::{OnceCell, Semaphore};
use zeroize::Zeroizing;

use super::CryptoError;
use crate::clock::{Entropy, OsEntropy};
use crate::telemetry;

/// Memory cost in KiB (19 MiB).
pub const ARGON2_M_COST_KIB: u32 = 19_456;
/// Number of passes over memory.
pub const ARGON2_T_COST: u32 = 2;
/// Degree of parallelism (lanes).
pub const ARGON2_P_COST: u32 = 1;
/// Salt length in bytes.
pub const SALT_LEN: usize = 16;

/// Stored hashes asking for more than this are refused rather than computed (a tampered row
/// must not be able to make one login allocate gigabytes).
const MAX_M_COST_KIB: u32 = 1 << 20;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 8;

/// Hashed by `verify_dummy`; the value does not matter, only that it is a real hash with the
/// production parameters.
const DUMMY_PASSWORD: &str = "leasify-id dummy password for unknown accounts";

pub fn argon2_params_description() -> &'static str {
    "argon2id v=19, m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte output"
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Cheap to clone; clones share the concurrency limit.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    permits: Arc<Semaphore>,
    /// Argon2 working memory (19 MiB each), reused across verifications: allocating and
    /// page-faulting it anew for every login cost about a third of a login's CPU.
    memory: std::sync::Mutex<Vec<Vec<argon2::Block>>>,
    dummy_hash: OnceCell<String>,
    /// Callers waiting for a permit (metrics: a growing number means logins queue up).
    waiting: AtomicUsize,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    /// Hashes and verifications computed since start (for tests and metrics).
    computed: AtomicUsize,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available_permits", &self.inner.permits.available_permits())
            .finish()
    }
}

impl PasswordHasher {
    /// At most `max_concurrent` (at least 1) hashes or verifications run at once; the others wait.
    pub fn new(max_concurrent: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
                memory: std::sync::Mutex::new(Vec::new()),
                dummy_hash: OnceCell::new(),
                waiting: AtomicUsize::new(0),
                in_flight: AtomicUsize::new(0),
                peak_in_flight: AtomicUsize::new(0),
                computed: AtomicUsize::new(0),
            }),
        }
    }

    /// Hashes currently being computed (not counting those waiting for a permit).
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Callers waiting for a permit.
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::SeqCst)
    }

    /// Argon2 computations (hashes and verifications, dummy ones included) since start.
    pub fn computed(&self) -> usize {
        self.inner.computed.load(Ordering::SeqCst)
    }

    /// Runs `work` on a blocking thread once a permit is free. The permit moves into the blocking
    /// task, so a cancelled caller does not let more than `max_concurrent` hashes run.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CryptoError> {
        let started = Instant::now();
        let waiting = Waiting::start(&self.inner);
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| CryptoError::Internal("password hasher closed".into()))?;
        drop(waiting);
        telemetry::password_hash_waited(started.elapsed());
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            inner.computed.fetch_add(1, Ordering::SeqCst);
            let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            inner.peak_in_flight.fetch_max(now, Ordering::SeqCst);
            inner.report();
            let out = work();
            inner.in_flight.fetch_sub(1, Ordering::SeqCst);
            inner.report();
            out
        })
        .await
        .map_err(|e| CryptoError::Internal(format!("password hashing task failed: {e}")))
    }

    /// A PHC string with a fresh random salt.
    pub async fn hash(&self, password: &str) -> Result<String, CryptoError> {
        let mut salt = [0u8; SALT_LEN];
        OsEntropy.fill(&mut salt);
        let password = Zeroizing::new(password.to_owned());
        self.run(move || {
            let salt =
                SaltString::encode_b64(&salt).map_err(|e| CryptoError::Password(e.to_string()))?;
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| CryptoError::Password(e.to_string()))
        })
        .await?
    }

    /// `Ok(false)` for a wrong password; an error only if `phc` is not a usable hash.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, CryptoError> {
        check_phc(phc)?;
        let password = Zeroizing::new(password.to_owned());
        let phc = phc.to_owned();
        let inner = Arc::clone(&self.inner);
        self.run(move || {
            let parsed = PasswordHash::new(&phc).map_err(|_| malformed())?;
            let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|_| malformed())?;
            let version = parsed
                .version
                .map(Version::try_from)
                .transpose()
                .map_err(|_| malformed())?
                .unwrap_or(Version::V0x13);
            let params = Params::try_from(&parsed).map_err(|_| malformed())?;
            let mut salt_buf = [0u8; 64];
            let salt = parsed
                .salt
                .ok_or_else(malformed)?
                .decode_b64(&mut salt_buf)
                .map_err(|_| malformed())?;
            let expected = parsed.hash.ok_or_else(malformed)?;
            let mut output = Zeroizing::new(vec![0u8; expected.len()]);
            let mut memory = inner
                .memory
                .lock()
                .ok()
                .and_then(|mut pool| pool.pop())
                .unwrap_or_default();
            if memory.len() < params.block_count() {
                memory.resize(params.block_count(), argon2::Block::default());
            }
            let result = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut output,
                &mut memory[..],
            );
            if let Ok(mut pool) = inner.memory.lock() {
                pool.push(memory);
            }
            result.map_err(|_| malformed())?;
            Ok(super::constant_time_eq(&output, expected.as_bytes()))
        })
        .await?
    }

    pub async fn verify_dummy(&self, password: &str) {
        if let Ok(phc) = self.dummy_hash().await {
            let _ = self.verify(password, &phc).await;
        }
    }

    /// Computes the dummy hash now (at startup) instead of on the first unknown-account login.
    pub async fn warm_up(&self) -> Result<(), CryptoError> {
        self.dummy_hash().await.map(|_| ())
    }

    async fn dummy_hash(&self) -> Result<String, CryptoError> {
        self.inner
            .dummy_hash
            .get_or_try_init(|| self.hash(DUMMY_PASSWORD))
            .await
            .cloned()
    }

    #[cfg(test)]
    fn peak_in_flight(&self) -> usize {
        self.inner.peak_in_flight.load(Ordering::SeqCst)
    }
}

impl Inner {
    /// Sets the argon2 queue gauges from this hasher's counters (absolute values, so a recorder
    /// installed while hashes run still shows the truth after the next change).
    fn report(&self) {
        telemetry::password_hash_queue(
            self.waiting.load(Ordering::SeqCst),
            self.in_flight.load(Ordering::SeqCst),
        );
    }
}

/// One caller counted as waiting for a permit until dropped (also when its future is dropped).
struct Waiting<'a>(&'a Inner);

impl<'a> Waiting<'a> {
    fn start(inner: &'a Inner) -> Self {
        inner.waiting.fetch_add(1, Ordering::SeqCst);
        inner.report();
        Waiting(inner)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
        self.0.report();
    }
}

/// Whether a stored hash uses other parameters than today's (rehash after a successful login).
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return true;
    };
    hash.algorithm != Algorithm::Argon2id.ident()
        || hash.version != Some(Version::V0x13.into())
        || params.m_cost() != ARGON2_M_COST_KIB
        || params.t_cost() != ARGON2_T_COST
        || params.p_cost() != ARGON2_P_COST
}

fn malformed() -> CryptoError {
    CryptoError::Password("malformed password hash".into())
}

fn check_phc(phc: &str) -> Result<(), CryptoError> {
    let hash = PasswordHash::new(phc).map_err(|_| malformed())?;
    Algorithm::try_from(hash.algorithm).map_err(|_| malformed())?;
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(malformed());
    }
    let params = Params::try_from(&hash).map_err(|_| malformed())?;
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        return Err(CryptoError::Password(
            "password hash parameters out of range".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[tokio::test]
    async fn waiters_are_counted_until_they_get_a_permit_or_give_up() {
        let hasher = PasswordHasher::new(1);
        let held = Arc::clone(&hasher.inner.permits)
            .acquire_owned()
            .await
            .unwrap();
        let h = hasher.clone();
        let waiter = tokio::spawn(async move { h.hash("pw").await });
        let deadline = Instant::now() + Duration::from_secs(5);
        while hasher.waiting() != 1 {
            assert!(Instant::now() < deadline, "the hash waits for the permit");
            tokio::task::yield_now().await;
        }
        // A caller that goes away while waiting is no longer counted.
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert_eq!(hasher.waiting(), 0);

        let h = hasher.clone();
        let waiter = tokio::spawn(async move { h.hash("pw").await });
        while hasher.waiting() != 1 {
            assert!(Instant::now() < deadline, "the second hash waits too");
            tokio::task::yield_now().await;
        }
        drop(held);
        assert!(waiter.await.unwrap().is_ok());
        assert_eq!((hasher.waiting(), hasher.in_flight()), (0, 0));
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let hasher = PasswordHasher::new(2);
        let phc = hasher.hash("correct horse battery staple").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(
            hasher
                .verify("correct horse battery staple", &phc)
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("correct horse battery stapler", &phc)
                .await
                .unwrap()
        );
        assert!(!hasher.verify("", &phc).await.unwrap());
        // Salted: the same password hashes differently.
        let again = hasher.hash("correct horse battery staple").await.unwrap();
        assert_ne!(phc, again);
        assert!(!needs_rehash(&phc));
        assert!(needs_rehash(
            "$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
        ));
    }

    #[tokio::test]
    async fn malformed_hash_is_an_error() {
        let hasher = PasswordHasher::new(1);
        for bad in [
            "",
            "plain",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$bcrypt$xyz",
            "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert!(
                matches!(hasher.verify("x", bad).await, Err(CryptoError::Password(_))),
                "{bad}"
            );
        }
        // A well-formed hash with other (valid) parameters still verifies.
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(256, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::encode_b64(&[7u8; 16]).unwrap())
        .unwrap()
        .to_string();
        assert!(hasher.verify("pw", &other).await.unwrap());
        assert!(!hasher.verify("pw2", &other).await.unwrap());
        assert!(needs_rehash(&other));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrency_is_capped() {
        let hasher = PasswordHasher::new(1);
        let phc = hasher.hash("pw").await.unwrap();
        let mut single = Duration::MAX;
        for _ in 0..2 {
            let start = Instant::now();
            hasher.verify("pw", &phc).await.unwrap();
            single = single.min(start.elapsed());
        }

        let start = Instant::now();
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let (h, phc) = (hasher.clone(), phc.clone());
                tokio::spawn(async move {
                    h.verify(if i % 2 == 0 { "pw" } else { "no" }, &phc)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        assert_eq!(results, [true, false, true, false]);
        assert_eq!(hasher.peak_in_flight(), 1);
        assert_eq!(hasher.in_flight(), 0);
        // Serialized: roughly four times one verification (generous margin for noisy machines).
        assert!(
            start.elapsed() >= single * 2,
            "{:?} vs single {:?}",
            start.elapsed(),
            single
        );

        let wide = PasswordHasher::new(4);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (h, phc) = (wide.clone(), phc.clone());
                tokio::spawn(async move { h.verify("pw", &phc).await.unwrap() })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap());
        }
        assert!(wide.peak_in_flight() <= 4);
    }

    #[tokio::test]
    async fn dummy_verification_takes_real_time() {
        let hasher = PasswordHasher::new(1);
        hasher.warm_up().await.unwrap();
        let phc = hasher.dummy_hash().await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let start = Instant::now();
        hasher.verify_dummy("guess").await;
        assert!(start.elapsed() > Duration::from_millis(1));
        // Computed once.
        assert_eq!(hasher.dummy_hash().await.unwrap(), phc);
        assert!(argon2_params_description().contains("m=19456"));
    }
}
