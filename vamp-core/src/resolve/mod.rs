//! Value references (`$svc.host`, `$svc.ports.p`, `${config://…}`, `$$`), their interpolation, environment
//! precedence and dependency order.
//!
//! * [`reference`](mod@reference): the grammar — a value is text and references.
//! * [`interpolate`](mod@interpolate): turning references into values from a [`ValueSource`], leniently (the original: unresolved
//!   → empty text) or strictly (an error naming the reference).
//! * [`values`]: a [`ValueSource`] made of maps, and how a deployment fills it.
//! * [`environment`]: which environment a deployment service gets (breed < cluster scope < service) and which
//!   cluster each dependency alias means.
//! * [`order`]: start order of clusters and cycle detection in breed dependencies.

pub mod environment;
pub mod interpolate;
pub mod order;
pub mod reference;
pub mod values;

pub use environment::{
    cluster_scoped, container_environment, dependency_clusters, effective_environment, matches_dependency,
    merged_environment, resolve_environment,
};
pub use interpolate::{interpolate, resolve, Aliased, InterpolationError, Strictness, ValueSource};
pub use order::{
    breed_cycle, check_breed_cycles, cluster_dependencies, cluster_order, deployment_order, Cycle,
};
pub use reference::{
    host_port_at, parse_value, references, rewrite_clusters, units, Part, Reference, ReferenceError,
    TraitGroup, Unit,
};
pub use values::Values;
