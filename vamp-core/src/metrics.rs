//! The `MetricsSource` trait: per gateway and route windows of request counts, status classes and latencies.
