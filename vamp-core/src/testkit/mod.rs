//! Conformance suites every backend runs (feature `testkit`).
