//! The `ContainerDriver` trait: runs service instances and reports what runs.
