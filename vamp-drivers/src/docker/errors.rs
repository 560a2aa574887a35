//! Docker API failures as Vamp errors, naming the endpoint and what the driver was doing.
//!
//! A daemon that cannot be reached (no socket, refused connection, timeout) is `Unavailable` and retryable;
//! Docker's answers map by status: 400 `Invalid`, 404 `NotFound`, 409 `Conflict`, anything else `Backend`.

use bollard::errors::Error as DockerError;
use vamp_core::{Error, ErrorKind};

use super::endpoint::Endpoint;

/// The HTTP status of a Docker answer, when the failure is one.
pub(crate) fn status(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// `e`, met while doing `what` (a phrase like "list the containers of namespace x"), as a Vamp error.
pub(crate) fn map(e: DockerError, endpoint: &Endpoint, what: &str) -> Error {
    let kind = match &e {
        DockerError::SocketNotFoundError(_)
        | DockerError::HyperLegacyError { .. }
        | DockerError::HyperResponseError { .. }
        | DockerError::IOError { .. }
        | DockerError::RequestTimeoutError => {
            return Error::unavailable(format!(
                "The Docker daemon at {endpoint} cannot be reached to {what}: {e}. Start it, or point the driver \
                 at the right socket or host."
            ))
            .with_source(e)
        }
        DockerError::DockerResponseServerError { status_code, .. } => match status_code {
            400 => ErrorKind::Invalid,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            _ => ErrorKind::Backend,
        },
        _ => ErrorKind::Backend,
    };
    let message = match &e {
        DockerError::DockerResponseServerError { status_code, message } => {
            format!("Docker at {endpoint} refused to {what} (HTTP {status_code}): {message}")
        }
        other => format!("Docker at {endpoint} failed to {what}: {other}"),
    };
    Error::new(kind, message).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        Endpoint::Unix("/run/x.sock".into())
    }

    #[test]
    fn a_missing_socket_is_retryable_and_names_it() {
        let e = map(
            DockerError::SocketNotFoundError("/run/x.sock".into()),
            &endpoint(),
            "list",
        );
        assert!(e.is_retryable());
        assert!(e.message().contains("unix:///run/x.sock"), "{e}");
    }

    #[test]
    fn answers_map_by_status() {
        let answer = |status_code| DockerError::DockerResponseServerError {
            status_code,
            message: "no".into(),
        };
        assert_eq!(map(answer(400), &endpoint(), "x").kind(), ErrorKind::Invalid);
        assert_eq!(map(answer(404), &endpoint(), "x").kind(), ErrorKind::NotFound);
        assert_eq!(map(answer(409), &endpoint(), "x").kind(), ErrorKind::Conflict);
        assert_eq!(map(answer(500), &endpoint(), "x").kind(), ErrorKind::Backend);
    }
}
