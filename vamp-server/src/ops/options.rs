//! The options of reads and writes, as the REST API's query parameters give them.

/// How a write is carried out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// `validate_only=true`: run every check, including the merge of a deployment, and return the result
    /// without storing anything, publishing events or waking loops.
    pub validate_only: bool,
    /// The raw request body; it becomes the value of the `archive` event of a successful write (the original's
    /// `PersistenceArchive`). `None` publishes the canonical JSON of the artifact instead.
    pub source: Option<String>,
}

impl WriteOptions {
    /// Options that store, with `source` as the archived body.
    pub fn with_source(source: impl Into<String>) -> Self {
        WriteOptions {
            validate_only: false,
            source: Some(source.into()),
        }
    }

    /// Options that only validate.
    pub fn validate_only() -> Self {
        WriteOptions {
            validate_only: true,
            source: None,
        }
    }
}

/// How artifacts are written back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// `as_blueprint=true`: a deployment is returned as the blueprint that recreates it
    /// (`ops::deployment::as_blueprint`).
    pub as_blueprint: bool,
    /// `expand_references=true`: references to stored breeds, scales, SLAs, escalations, routes, conditions and
    /// rewrites in a blueprint (or in a deployment read as a blueprint) are replaced by the stored artifacts;
    /// references to artifacts that do not exist stay references.
    pub expand_references: bool,
    /// `only_references=true`: inline named breeds of a blueprint are replaced by references to them (and, for
    /// a deployment read as a blueprint, the breeds of its services). Ignored when `expand_references` is set.
    pub only_references: bool,
}
