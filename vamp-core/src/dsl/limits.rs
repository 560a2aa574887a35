//! How much work one read of a YAML or JSON text may do: the nodes it may hold, how much of it aliases may clone,
//! and until when it may run. The limits are per thread, set around a read with [`with_limits`], so that every
//! reader of the DSL honours them without taking them as an argument; a thread that sets none reads with
//! [`ReadLimits::default`] and no deadline.

use std::cell::Cell;
use std::time::Instant;

use super::node::{MAX_ALIAS_BYTES, MAX_ALIAS_NODES, MAX_NODES};

/// The bounds of one read. A text over a bound is refused with a parse error naming the bound, never read in
/// part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most nodes in one read, each alias counted with every node it clones. Default [`MAX_NODES`].
    pub max_nodes: usize,
    /// Most nodes that alias expansions may clone in one read, in total. Default [`MAX_ALIAS_NODES`].
    pub max_alias_nodes: usize,
    /// Most bytes of scalar text (and map keys) that alias expansions may clone in one read, in total. Default
    /// [`MAX_ALIAS_BYTES`].
    pub max_alias_bytes: usize,
    /// When the read gives up with a "took too long" error; `None` never.
    pub deadline: Option<Instant>,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_nodes: MAX_NODES,
            max_alias_nodes: MAX_ALIAS_NODES,
            max_alias_bytes: MAX_ALIAS_BYTES,
            deadline: None,
        }
    }
}

impl ReadLimits {
    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

thread_local! {
    static CURRENT: Cell<ReadLimits> = Cell::new(ReadLimits::default());
}

/// The limits reads on this thread run with now.
pub fn current() -> ReadLimits {
    CURRENT.with(Cell::get)
}

/// Runs `f` with `limits` for every read it makes on this thread, restoring the previous limits afterwards (also
/// when `f` panics).
pub fn with_limits<T>(limits: ReadLimits, f: impl FnOnce() -> T) -> T {
    struct Restore(ReadLimits);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(limits)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_apply_inside_and_are_restored_after() {
        let tight = ReadLimits {
            max_nodes: 3,
            ..ReadLimits::default()
        };
        let inside = with_limits(tight, current);
        assert_eq!(inside, tight);
        assert_eq!(current(), ReadLimits::default());
    }

    #[test]
    fn a_past_deadline_has_expired() {
        let limits = ReadLimits {
            deadline: Some(Instant::now()),
            ..ReadLimits::default()
        };
        assert!(limits.expired());
        assert!(!ReadLimits::default().expired());
    }
}
