//! How failures of the Kubernetes API become [`vamp_core::Error`]s.
//!
//! Connection failures and the API server's "try again" answers (429, 500 `ServerTimeout`, 503, 504) are
//! retryable `Unavailable`; 401 and 403 are `Unavailable` that retrying does not fix (credentials or RBAC);
//! refused input (400, 422) is `Invalid`; 404 `NotFound`; 409 `Conflict`; everything else `Backend`. Every message
//! names the API server, the operation and the object, and repeats the server's own message.

use kube::core::Status;
use vamp_core::{Error, ErrorKind};

/// What was being done, for messages: `apply Deployment shop/web` and the API server URL.
pub struct Context<'a> {
    /// The API server, as configured.
    pub endpoint: &'a str,
    /// The operation and object, e.g. `apply Deployment vt1/shop-web-sava`.
    pub operation: String,
}

/// The error kind for an API `Status` answer.
pub fn kind_of(status: &Status) -> ErrorKind {
    match status.code {
        400 | 422 => ErrorKind::Invalid,
        401 | 403 => ErrorKind::Unavailable { retryable: false },
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 | 503 | 504 => ErrorKind::Unavailable { retryable: true },
        500 if status.reason == "ServerTimeout" => ErrorKind::Unavailable { retryable: true },
        _ => ErrorKind::Backend,
    }
}

/// Whether `error` is the API server saying the object does not exist.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// Whether `error` is the API server refusing the account the operation (RBAC).
pub fn is_forbidden(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 403)
}

/// Whether `error` is the API server saying the object exists already.
pub fn is_already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409 && status.reason == "AlreadyExists")
}

/// `error` as a Vamp error, in `context`.
pub fn map(context: &Context<'_>, error: kube::Error) -> Error {
    let Context { endpoint, operation } = context;
    let (kind, message) = match &error {
        kube::Error::Api(status) => (
            kind_of(status),
            format!(
                "The Kubernetes API server at {endpoint} refused to {operation}: {} ({} {}).",
                status.message, status.code, status.reason
            ),
        ),
        kube::Error::HyperError(_) | kube::Error::Service(_) => (
            ErrorKind::Unavailable { retryable: true },
            format!(
                "The Kubernetes API server at {endpoint} could not be reached to {operation}: {error}. Check that \
                 it runs and is reachable; Vamp tries again."
            ),
        ),
        kube::Error::Auth(_) => (
            ErrorKind::Unavailable { retryable: false },
            format!("The Kubernetes credentials for {endpoint} are not usable to {operation}: {error}."),
        ),
        _ => (
            ErrorKind::Backend,
            format!("The Kubernetes API at {endpoint} failed to {operation}: {error}."),
        ),
    };
    Error::new(kind, message).with_source(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str) -> Status {
        Status::failure("m", reason).with_code(code)
    }

    #[test]
    fn refused_input_is_invalid() {
        assert_eq!(kind_of(&status(422, "Invalid")), ErrorKind::Invalid);
        assert_eq!(kind_of(&status(400, "BadRequest")), ErrorKind::Invalid);
    }

    #[test]
    fn overload_and_timeouts_are_retryable() {
        for (code, reason) in [
            (429, "TooManyRequests"),
            (503, ""),
            (504, ""),
            (500, "ServerTimeout"),
        ] {
            assert_eq!(
                kind_of(&status(code, reason)),
                ErrorKind::Unavailable { retryable: true },
                "{code}"
            );
        }
    }

    #[test]
    fn refused_credentials_are_not_retryable() {
        assert_eq!(
            kind_of(&status(403, "Forbidden")),
            ErrorKind::Unavailable { retryable: false }
        );
    }

    #[test]
    fn other_server_failures_are_backend_failures() {
        assert_eq!(kind_of(&status(500, "InternalError")), ErrorKind::Backend);
        assert_eq!(kind_of(&status(404, "NotFound")), ErrorKind::NotFound);
        assert_eq!(kind_of(&status(409, "Conflict")), ErrorKind::Conflict);
    }

    #[test]
    fn messages_name_the_server_and_the_operation() {
        let context = Context {
            endpoint: "http://k:1",
            operation: "apply Deployment ns/x".into(),
        };
        let err = map(&context, kube::Error::Api(status(422, "Invalid").boxed()));
        assert!(err.message().contains("http://k:1"), "{}", err.message());
        assert!(
            err.message().contains("apply Deployment ns/x"),
            "{}",
            err.message()
        );
        assert_eq!(err.kind(), ErrorKind::Invalid);
    }
}
