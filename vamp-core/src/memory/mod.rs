//! In-memory implementations of every trait: the embedded default and the reference behaviour.
