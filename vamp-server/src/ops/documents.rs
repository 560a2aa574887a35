//! The multi-document root (`POST|PUT|DELETE /api/v1`): every document says its `kind`; each is dispatched as
//! if sent to its own endpoint — deployments to create-or-merge (POST, PUT) or slice (DELETE).

use vamp_core::dsl::{self, DslError, ErrorCode, Value};
use vamp_core::model::{Artifact, Kind};
use vamp_core::Result;

use super::options::WriteOptions;
use crate::vamp::Vamp;

/// What the root endpoint does with each document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `POST`: create (deployments: create-or-merge under the blueprint's name).
    Create,
    /// `PUT`: update (deployments: merge).
    Update,
    /// `DELETE`: delete (deployments: slice by the document).
    Delete,
}

/// One document of a multi-document text, read and validated: its kind, the artifact, and its JSON (the
/// archived source of its write).
#[derive(Debug, Clone)]
pub struct ReadDocument {
    /// The kind the document says.
    pub kind: Kind,
    /// The artifact (for a deployment, the blueprint of the request).
    pub artifact: Artifact,
    /// The document as JSON.
    pub source: String,
}

/// Reads every document of `text` (YAML or JSON; `---`-separated, or a list). Each document needs a `kind`
/// (singular or plural); deployments are read as deployment requests (a blueprint, tolerating
/// `kind: deployment`). Synchronous and CPU-bound: the API runs it off the async workers.
pub fn read_documents(text: &str) -> Result<Vec<ReadDocument>> {
    let docs = dsl::reading::documents(Kind::Blueprint, text)?;
    let mut items = Vec::new();
    for doc in docs {
        match doc.value {
            Value::List(list) => items.extend(list),
            _ => items.push(doc),
        }
    }
    let mut parsed = Vec::with_capacity(items.len());
    for item in &items {
        let name = item.get("name").and_then(|n| n.as_text()).unwrap_or_default();
        let kind_text = item.get("kind").and_then(|k| k.as_text()).ok_or_else(|| {
            DslError::about(
                ErrorCode::MissingPathValueError,
                Kind::Blueprint,
                name,
                "kind",
                "each document sent to the root endpoint needs a 'kind'",
            )
        })?;
        let kind: Kind = kind_text.parse().map_err(|_| {
            DslError::about(
                ErrorCode::UnexpectedArtifact,
                Kind::Blueprint,
                name,
                "kind",
                format!("'{kind_text}' is not an artifact kind"),
            )
        })?;
        let source = serde_json::to_string(&item.to_json()).unwrap_or_default();
        let artifact = if kind == Kind::Deployment {
            Artifact::Blueprint(dsl::read_deployment_request(&source)?)
        } else {
            dsl::read_node(kind, item)?
        };
        parsed.push(ReadDocument {
            kind,
            artifact,
            source,
        });
    }
    Ok(parsed)
}

impl Vamp {
    /// Reads every document of `text` ([`read_documents`]) and applies `verb` to each in order
    /// ([`Vamp::apply_read_documents`]).
    pub async fn apply_documents(
        &self,
        text: &str,
        verb: Verb,
        options: &WriteOptions,
    ) -> Result<Vec<Vec<Artifact>>> {
        self.apply_read_documents(read_documents(text)?, verb, options)
            .await
    }

    /// Applies `verb` to each of `documents` in order, stopping at the first failure (earlier documents stay
    /// applied, as in the original). The archive event of each write carries that document's JSON.
    ///
    /// Returns one result list per document: what [`Vamp::create`] / [`Vamp::update`] return, and for a
    /// delete the document itself (for a deployment, the deployment after the slice).
    pub async fn apply_read_documents(
        &self,
        documents: Vec<ReadDocument>,
        verb: Verb,
        options: &WriteOptions,
    ) -> Result<Vec<Vec<Artifact>>> {
        let parsed: Vec<_> = documents
            .into_iter()
            .map(|d| (d.kind, d.artifact, d.source))
            .collect();
        let mut out = Vec::with_capacity(parsed.len());
        for (kind, artifact, source) in parsed {
            let opts = WriteOptions {
                validate_only: options.validate_only,
                source: Some(source),
            };
            let result = match (verb, kind) {
                (Verb::Create | Verb::Update, Kind::Deployment) => {
                    let name = artifact.name().to_string();
                    self.deploy(&name, artifact, &opts).await?
                }
                (Verb::Create, _) => self.create(artifact, &opts).await?,
                (Verb::Update, _) => self.update(artifact, &opts).await?,
                (Verb::Delete, Kind::Deployment) => {
                    let name = artifact.name().to_string();
                    self.undeploy(&name, artifact, &opts).await?.into_iter().collect()
                }
                (Verb::Delete, _) => {
                    self.delete(kind, artifact.name(), &opts).await?;
                    vec![artifact]
                }
            };
            out.push(result);
        }
        Ok(out)
    }
}
