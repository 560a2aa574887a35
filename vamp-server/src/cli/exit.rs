//! The CLI's errors and the exit codes scripts can rely on.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the server refused the request or the operation failed (4xx/5xx, not found, a deployment `Failed`) |
//! | 2 | usage or configuration error (bad flags, unreadable or invalid input file, bad `vamp serve` config) |
//! | 3 | the server cannot be reached (connection refused, DNS, request timeout) |
//! | 4 | `--wait` timed out before the deployment converged |

use std::fmt;

use vamp_core::{Error, ErrorKind};

/// Success.
pub const EXIT_OK: i32 = 0;
/// The server said no, or the operation failed.
pub const EXIT_FAILED: i32 = 1;
/// Usage or configuration error.
pub const EXIT_USAGE: i32 = 2;
/// The server cannot be reached.
pub const EXIT_UNREACHABLE: i32 = 3;
/// `--wait` timed out.
pub const EXIT_TIMEOUT: i32 = 4;

/// Why a CLI command did not succeed; [`CliError::exit_code`] is its process exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// Bad flags, arguments, input files or configuration.
    Usage(String),
    /// The server answered with an error status.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's `message`, or a description of the status.
        message: String,
    },
    /// The operation failed (a deployment reached `Failed`, the server could not start, …).
    Failed(String),
    /// The server did not answer.
    Unreachable(String),
    /// `--wait` ran out of time.
    Timeout(String),
}

impl CliError {
    /// The exit code of this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Refused { .. } | CliError::Failed(_) => EXIT_FAILED,
            CliError::Unreachable(_) => EXIT_UNREACHABLE,
            CliError::Timeout(_) => EXIT_TIMEOUT,
        }
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) | CliError::Unreachable(m) | CliError::Timeout(m) => {
                f.write_str(m)
            }
            CliError::Refused { status, message } => write!(f, "{message} (HTTP {status})"),
        }
    }
}

impl From<Error> for CliError {
    /// Errors of the server core (`vamp serve`): bad input and unsupported settings are usage errors, an
    /// unreachable backend is "unreachable", the rest a failure.
    fn from(e: Error) -> Self {
        match e.kind() {
            ErrorKind::Invalid | ErrorKind::Unsupported => CliError::Usage(e.message().to_string()),
            ErrorKind::Unavailable { .. } => CliError::Unreachable(e.message().to_string()),
            _ => CliError::Failed(e.message().to_string()),
        }
    }
}

/// The result of a CLI command.
pub type CliResult<T> = std::result::Result<T, CliError>;
