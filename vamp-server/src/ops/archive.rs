//! The `archive` events of successful writes (the original's `PersistenceArchive`): tags `<kinds>:<name>` and
//! `archive:create|update|delete`, type `archive`, value the raw request body.

use vamp_core::model::{Artifact, Event, Kind};

use super::codec::encode;
use super::options::WriteOptions;
use crate::vamp::Vamp;

/// What happened to the artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArchiveAction {
    Create,
    Update,
    Delete,
}

impl ArchiveAction {
    fn tag(self) -> &'static str {
        match self {
            ArchiveAction::Create => "archive:create",
            ArchiveAction::Update => "archive:update",
            ArchiveAction::Delete => "archive:delete",
        }
    }
}

impl Vamp {
    /// Publishes the archive event of a write. Its value is `options.source` (the raw body), else the
    /// artifact's canonical JSON, else null. A failure to publish is logged, not returned: the write itself has
    /// succeeded.
    pub(crate) async fn archive(
        &self,
        kind: Kind,
        name: &str,
        action: ArchiveAction,
        options: &WriteOptions,
        artifact: Option<&Artifact>,
    ) {
        let value = match (&options.source, artifact) {
            (Some(source), _) => serde_json::Value::String(source.clone()),
            (None, Some(a)) => encode(a).unwrap_or(serde_json::Value::Null),
            (None, None) => serde_json::Value::Null,
        };
        let event = Event::new(
            [format!("{}:{name}", kind.plural()), action.tag().to_string()],
            value,
        )
        .with_type("archive");
        if let Err(e) = self.inner.events.publish(event).await {
            tracing::warn!(error = %e, %kind, name, "the archive event could not be published");
        }
    }
}
