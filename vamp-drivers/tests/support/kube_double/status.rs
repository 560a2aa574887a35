//! The `Status` objects the Kubernetes API answers failures with, as documented in the API conventions
//! ("Response Status Kind"): `kind: Status`, `status: Failure`, a `reason`, a `message`, `details` naming the
//! object, and the HTTP `code`.

use serde_json::{json, Value};

/// A failed request: the HTTP code, the machine-readable reason and the message.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl Failure {
    fn new(code: u16, reason: &'static str, message: String) -> Self {
        Failure {
            code,
            reason,
            message,
            details: None,
        }
    }

    fn with_details(mut self, kind: &str, group: &str, name: &str) -> Self {
        self.details = Some(json!({"name": name, "group": group, "kind": kind}));
        self
    }

    /// 404: `deployments.apps "x" not found`.
    pub fn not_found(plural: &str, group: &str, name: &str) -> Self {
        Failure::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(plural, group)),
        )
        .with_details(plural, group, name)
    }

    /// 404 for a path the API does not serve.
    pub fn no_route() -> Self {
        Failure::new(
            404,
            "NotFound",
            "the server could not find the requested resource".to_string(),
        )
    }

    /// 409: `deployments.apps "x" already exists`.
    pub fn already_exists(plural: &str, group: &str, name: &str) -> Self {
        Failure::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(plural, group)),
        )
        .with_details(plural, group, name)
    }

    /// 409: a stale `resourceVersion` on update.
    pub fn conflict(plural: &str, group: &str, name: &str) -> Self {
        Failure::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your \
                 changes to the latest version and try again",
                qualified(plural, group)
            ),
        )
        .with_details(plural, group, name)
    }

    /// 422: `Deployment.apps "x" is invalid: <field>: Invalid value: …`.
    pub fn invalid(kind: &str, group: &str, name: &str, field: &str, why: &str) -> Self {
        Failure::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {field}: {why}", qualified(kind, group)),
        )
        .with_details(kind, group, name)
    }

    /// 400 for a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Failure::new(400, "BadRequest", message.into())
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed(method: &str) -> Self {
        Failure::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    /// 415 for a patch type the double does not implement.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Failure::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml, application/merge-patch+json (got {content_type})"),
        )
    }

    /// The `Status` object of this failure.
    pub fn to_json(&self) -> Value {
        let mut status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        });
        if let (Some(details), Some(map)) = (&self.details, status.as_object_mut()) {
            map.insert("details".into(), details.clone());
        }
        status
    }
}

/// The `Status` of a successful deletion.
pub fn success(plural: &str, group: &str, name: &str, uid: &Value) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": name, "group": group, "kind": plural, "uid": uid},
    })
}

fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}
