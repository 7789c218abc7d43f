//! Reconnect delays with jitter and caps. Randomness comes from a seeded generator so tests
//! are deterministic; the driver seeds it from the browser.

use super::Millis;
use serde::{Deserialize, Serialize};

/// How a backend spaces its reconnect attempts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum BackoffPolicy {
    /// `min(max, (initial + randomness·r) · multiplier^attempt)`, r ∈ [0, 1): the
    /// SocketCluster client's formula, also used (with its own numbers) for ActionCable.
    Exponential {
        /// Delay before the first attempt.
        initial: Millis,
        /// Up to this much is added at random to the base.
        randomness: Millis,
        /// Growth per failed attempt.
        multiplier: f64,
        /// Cap.
        max: Millis,
    },
    /// `min(max, increment·attempt) · (1 + jitter·r)`: the CometD client's linear backoff.
    Linear {
        /// Added per failed attempt.
        increment: Millis,
        /// Cap.
        max: Millis,
        /// Fraction of the delay added at random.
        jitter: f64,
    },
}

/// Counts failed attempts and produces the next delay.
#[derive(Clone, Debug)]
pub struct ReconnectBackoff {
    policy: BackoffPolicy,
    attempt: u32,
    rng: u64,
}

impl ReconnectBackoff {
    /// A backoff with a policy and a random seed.
    pub fn new(policy: BackoffPolicy, seed: u64) -> Self {
        ReconnectBackoff {
            policy,
            attempt: 0,
            rng: seed | 1,
        }
    }

    /// Failed attempts in a row.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Forgets the failures (after a successful connect).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    fn random(&mut self) -> f64 {
        // xorshift64*: plenty for spreading reconnects; not for anything secret.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A short random delay in `[max / 4, max)` for the first attempt after a working
    /// connection dropped; not counted as a failure, so a failed attempt goes on with the policy.
    pub fn after_drop(&mut self, max: Millis) -> Millis {
        let quarter = max / 4;
        quarter + (self.random() * (max - quarter) as f64) as Millis
    }

    /// The delay before the next attempt; counts one more failure.
    pub fn next_delay(&mut self) -> Millis {
        let r = self.random();
        let delay = match self.policy {
            BackoffPolicy::Exponential {
                initial,
                randomness,
                multiplier,
                max,
            } => {
                let base = (initial as f64 + randomness as f64 * r)
                    * multiplier.powi(self.attempt.min(30) as i32);
                base.min(max as f64)
            }
            BackoffPolicy::Linear {
                increment,
                max,
                jitter,
            } => {
                let base = (increment * (self.attempt as u64 + 1)).min(max) as f64;
                base * (1.0 + jitter * r)
            }
        };
        self.attempt = self.attempt.saturating_add(1);
        delay.round() as Millis
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_grows_with_jitter_and_caps() {
        let policy = BackoffPolicy::Exponential {
            initial: 10_000,
            randomness: 10_000,
            multiplier: 1.5,
            max: 60_000,
        };
        let mut b = ReconnectBackoff::new(policy, 42);
        let delays: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        assert!((10_000..20_000).contains(&delays[0]), "{delays:?}");
        assert!((15_000..30_000).contains(&delays[1]), "{delays:?}");
        assert!(delays.iter().all(|d| *d <= 60_000));
        assert_eq!(delays[7], 60_000);
        b.reset();
        assert!(b.next_delay() < 20_000);
    }

    #[test]
    fn a_drop_retries_soon_without_counting_a_failure() {
        let policy = BackoffPolicy::Exponential {
            initial: 3_000,
            randomness: 450,
            multiplier: 1.5,
            max: 30_000,
        };
        let mut b = ReconnectBackoff::new(policy, 7);
        let quick: Vec<_> = (0..50).map(|_| b.after_drop(1_000)).collect();
        assert!(quick.iter().all(|d| (250..1_000).contains(d)), "{quick:?}");
        assert!(
            quick.iter().any(|d| *d != quick[0]),
            "spread, not one instant"
        );
        assert_eq!(b.attempt(), 0);
        assert!((3_000..3_450).contains(&b.next_delay()));
    }

    #[test]
    fn linear_adds_an_increment_per_failure() {
        let policy = BackoffPolicy::Linear {
            increment: 1000,
            max: 60_000,
            jitter: 0.0,
        };
        let mut b = ReconnectBackoff::new(policy, 1);
        assert_eq!(
            [b.next_delay(), b.next_delay(), b.next_delay()],
            [1000, 2000, 3000]
        );
    }

    #[test]
    fn different_seeds_spread_clients_apart() {
        let policy = BackoffPolicy::Exponential {
            initial: 1000,
            randomness: 1000,
            multiplier: 2.0,
            max: 30_000,
        };
        let a = ReconnectBackoff::new(policy, 1).next_delay();
        let b = ReconnectBackoff::new(policy, 99).next_delay();
        assert_ne!(a, b);
    }
}
