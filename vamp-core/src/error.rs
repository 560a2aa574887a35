//! The error every Vamp trait and operation returns.
//!
//! Each crate keeps a `thiserror` enum for its own failures and maps it into [`Error`], whose [`ErrorKind`] the
//! server maps to an HTTP status: `Invalid` 400, `NotFound` 404, `Conflict` 409, `Unavailable` 503,
//! `Unsupported` 501, `Backend` 500. Validation failures of the DSL carry a [`crate::dsl::DslError`] with the
//! artifact, the field path and the catalogue code.

use std::fmt;

use crate::dsl::DslError;

/// What kind of failure an [`Error`] is; decides the HTTP status and whether a caller may retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is wrong; retrying the same input fails the same way.
    Invalid,
    /// The named thing does not exist.
    NotFound,
    /// The request conflicts with the current state (a port in use, a revision that moved on).
    Conflict,
    /// A backend cannot be reached. `retryable` tells whether the same call may succeed later.
    Unavailable {
        /// Whether the same call may succeed later.
        retryable: bool,
    },
    /// The backend does not support this operation.
    Unsupported,
    /// The backend failed in a way that is not the caller's fault.
    Backend,
}

impl ErrorKind {
    /// The HTTP status the server answers with for this kind.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::Invalid => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Unavailable { .. } => 503,
            ErrorKind::Unsupported => 501,
            ErrorKind::Backend => 500,
        }
    }
}

/// The error of every trait method and operation in Vamp.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    dsl: Option<Box<DslError>>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind` with a sentence a person can act on.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            dsl: None,
            source: None,
        }
    }

    /// Bad input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// A missing artifact, key or service.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// A conflict with current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// A backend that cannot be reached now but may be later.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable { retryable: true }, message)
    }

    /// An operation the backend does not support.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// A failure inside a backend.
    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Backend, message)
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The sentence for a person.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The DSL catalogue entry, when this error is a validation failure of an artifact.
    pub fn dsl(&self) -> Option<&DslError> {
        self.dsl.as_deref()
    }

    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Unavailable { retryable: true })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<DslError> for Error {
    fn from(e: DslError) -> Self {
        Error {
            kind: ErrorKind::Invalid,
            message: e.to_string(),
            dsl: Some(Box::new(e)),
            source: None,
        }
    }
}

/// The result of every fallible Vamp call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
