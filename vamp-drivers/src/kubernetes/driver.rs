//! [`KubernetesDriver`]: the [`ContainerDriver`] that runs each Vamp service as a Kubernetes Deployment, and the
//! gateway Services vamp-server asks for.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::path::Path;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::Client;
use secrecy::SecretString;
use tokio::sync::Mutex;
use vamp_core::driver::{
    ContainerDriver, DriverInfo, RunningService, ServiceId, ServiceSpec, LABEL_CLUSTER, LABEL_DEPLOYMENT,
    LABEL_NAMESPACE, LABEL_SERVICE,
};
use vamp_core::model::Gateway;
use vamp_core::{Error, ErrorKind, Result};

use super::config::{self, Endpoint, KubernetesConfig, Propagation};
use super::errors::{self, Context};
use super::gateway_service::{self, DeployedGatewayService};
use super::manifest::{self, DEPLOYABLE_TYPES, LABEL_MANAGED_BY, MANAGER};
use super::{naming, observed};

/// The field manager Vamp's server-side applies are recorded under.
pub const FIELD_MANAGER: &str = "vamp";

/// Runs Vamp services on Kubernetes: one `apps/v1` Deployment per service in the Kubernetes namespace of the Vamp
/// namespace ([`naming::namespace_name`]), and one Service per gateway on request.
///
/// Built by [`KubernetesDriver::connect`] from a `kubernetes://` URL ([`super::config`] lists the forms and
/// parameters). Every call is bounded by [`KubernetesConfig::timeout`].
pub struct KubernetesDriver {
    client: Client,
    config: KubernetesConfig,
    endpoint: String,
    namespaces: Mutex<HashSet<String>>,
}

impl fmt::Debug for KubernetesDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubernetesDriver")
            .field("endpoint", &self.endpoint)
            .field("config", &RedactedConfig(&self.config))
            .finish()
    }
}

struct RedactedConfig<'a>(&'a KubernetesConfig);

impl fmt::Debug for RedactedConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        f.debug_struct("KubernetesConfig")
            .field("service_type", &c.service_type)
            .field("create_services", &c.create_services)
            .field("create_namespaces", &c.create_namespaces)
            .field("gateway_agent_label", &c.gateway_agent_label)
            .field("gateway_agent_id", &c.gateway_agent_id)
            .field("propagation", &c.propagation)
            .field("bearer", &c.bearer.as_ref().map(|_| "<redacted>"))
            .field("token_file", &c.token_file)
            .field("ca_file", &c.ca_file)
            .field("tls_check", &c.tls_check)
            .field("timeout", &c.timeout)
            .finish()
    }
}

fn not_connectable(endpoint: &str, error: impl fmt::Display) -> Error {
    Error::new(
        ErrorKind::Unavailable { retryable: false },
        format!("No Kubernetes client could be set up for {endpoint}: {error}."),
    )
}

fn client_config(
    endpoint: &str,
    config: &KubernetesConfig,
    inferred: Option<kube::Config>,
) -> Result<kube::Config> {
    let mut kube_config = match inferred {
        Some(inferred) => inferred,
        None => {
            let uri = endpoint.parse().map_err(|e| {
                Error::invalid(format!("The Kubernetes API URL '{endpoint}' is not a URI: {e}."))
            })?;
            let mut explicit = kube::Config::new(uri);
            explicit.accept_invalid_certs = !config.tls_check;
            explicit.root_cert_file = config.ca_file.clone();
            let environment_bearer = std::env::var(config::BEARER_VARIABLE)
                .ok()
                .filter(|t| !t.is_empty());
            if let Some(token) = config.bearer.clone().or(environment_bearer) {
                explicit.auth_info.token = Some(SecretString::from(token));
            } else if let Some(file) = &config.token_file {
                explicit.auth_info.token_file = Some(file.to_string_lossy().into_owned());
            } else if endpoint.starts_with("https://") && Path::new(config::SERVICE_ACCOUNT_TOKEN).exists() {
                explicit.auth_info.token_file = Some(config::SERVICE_ACCOUNT_TOKEN.to_string());
            }
            explicit
        }
    };
    if let Some(token) = &config.bearer {
        kube_config.auth_info.token = Some(SecretString::from(token.clone()));
    }
    kube_config.connect_timeout = Some(config.timeout.min(std::time::Duration::from_secs(10)));
    kube_config.read_timeout = Some(config.timeout);
    Ok(kube_config)
}

impl KubernetesDriver {
    /// A driver for the API server a `kubernetes://` URL names, with the URL's parameters over the defaults.
    ///
    /// Contacts nothing yet (the first call does), except that `kubernetes://` reads the kubeconfig or the
    /// in-cluster service account. Fails with `Invalid` for a malformed URL and with non-retryable `Unavailable`
    /// when no client can be set up (no kubeconfig, unreadable certificate).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, KubernetesConfig::default()).await
    }

    /// [`Self::connect`] with `base` in place of the default configuration; the URL's parameters override it.
    pub async fn connect_with(url: &str, base: KubernetesConfig) -> Result<Self> {
        let (endpoint, config) = config::parse_url(url, base)?;
        let (endpoint, kube_config) = match endpoint {
            Endpoint::Inferred => {
                let inferred = kube::Config::infer()
                    .await
                    .map_err(|e| not_connectable("kubernetes:// (kubeconfig or in-cluster)", e))?;
                let shown = inferred.cluster_url.to_string();
                let kube_config = client_config(&shown, &config, Some(inferred))?;
                (shown, kube_config)
            }
            Endpoint::Explicit(endpoint) => {
                let kube_config = client_config(&endpoint, &config, None)?;
                (endpoint, kube_config)
            }
        };
        let client = Client::try_from(kube_config).map_err(|e| not_connectable(&endpoint, e))?;
        Ok(KubernetesDriver {
            client,
            config,
            endpoint,
            namespaces: Mutex::new(HashSet::new()),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &KubernetesConfig {
        &self.config
    }

    fn context(&self, operation: String) -> Context<'_> {
        Context {
            endpoint: &self.endpoint,
            operation,
        }
    }

    /// Runs one API call within the configured timeout; a call that takes longer is retryable `Unavailable`.
    async fn call<T>(
        &self,
        operation: impl FnOnce() -> String,
        request: impl Future<Output = kube::Result<T>>,
    ) -> Result<std::result::Result<T, kube::Error>> {
        match tokio::time::timeout(self.config.timeout, request).await {
            Ok(result) => Ok(result),
            Err(_) => Err(Error::unavailable(format!(
                "The Kubernetes API server at {} did not answer within {:?} to {}; Vamp tries again.",
                self.endpoint,
                self.config.timeout,
                operation()
            ))),
        }
    }

    /// Runs one API call and maps every failure.
    async fn request<T>(
        &self,
        operation: String,
        request: impl Future<Output = kube::Result<T>>,
    ) -> Result<T> {
        let operation_for_timeout = operation.clone();
        self.call(|| operation_for_timeout, request)
            .await?
            .map_err(|e| errors::map(&self.context(operation), e))
    }

    /// Makes sure the Kubernetes namespace exists, creating it when allowed; remembered once seen. An account that
    /// may not create namespaces (403) goes on: the namespace may exist, and the apply says so when it does not.
    async fn ensure_namespace(&self, namespace: &str) -> Result<()> {
        if !self.config.create_namespaces || self.namespaces.lock().await.contains(namespace) {
            return Ok(());
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.to_string()),
                labels: Some([(LABEL_MANAGED_BY.to_string(), MANAGER.to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let operation = format!("create Namespace {namespace}");
        match self
            .call(|| operation.clone(), api.create(&PostParams::default(), &object))
            .await?
        {
            Ok(_) => {}
            Err(e) if errors::is_already_exists(&e) || errors::is_forbidden(&e) => {}
            Err(e) => return Err(errors::map(&self.context(operation), e)),
        }
        self.namespaces.lock().await.insert(namespace.to_string());
        Ok(())
    }

    /// Server-side apply of `object` named `name` in `namespace`, creating the namespace first when allowed.
    /// When the namespace turns out to be gone (deleted after Vamp saw it), it is created again and the apply
    /// repeated once.
    async fn apply<K>(
        &self,
        namespace: &str,
        name: &str,
        object: &serde_json::Value,
        what: String,
    ) -> Result<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + fmt::Debug
            + serde::de::DeserializeOwned,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let operation = format!("apply {what}");
        self.ensure_namespace(namespace).await?;
        let first = self
            .call(
                || operation.clone(),
                api.patch(name, &params, &Patch::Apply(object)),
            )
            .await?;
        match first {
            Ok(applied) => Ok(applied),
            Err(e) if errors::is_not_found(&e) && self.config.create_namespaces => {
                self.namespaces.lock().await.remove(namespace);
                self.ensure_namespace(namespace).await?;
                self.request(operation, api.patch(name, &params, &Patch::Apply(object)))
                    .await
            }
            Err(e) => Err(errors::map(&self.context(operation), e)),
        }
    }

    fn delete_params(&self) -> DeleteParams {
        let policy = match self.config.propagation {
            Propagation::Background => PropagationPolicy::Background,
            Propagation::Foreground => PropagationPolicy::Foreground,
            Propagation::Orphan => PropagationPolicy::Orphan,
        };
        DeleteParams {
            propagation_policy: Some(policy),
            ..DeleteParams::default()
        }
    }

    /// Creates or updates the Service of `gateway` in Vamp namespace `namespace` (server-side apply), selecting
    /// the gateway-agent pods; returns what the API server made of it. `Ok(None)` without touching the cluster
    /// when [`KubernetesConfig::create_services`] is off.
    ///
    /// Fails with `Invalid` when the gateway has no port number yet.
    pub async fn deploy_gateway_service(
        &self,
        namespace: &str,
        gateway: &Gateway,
    ) -> Result<Option<DeployedGatewayService>> {
        if !self.config.create_services {
            return Ok(None);
        }
        let service = gateway_service::service(&self.config, namespace, gateway)?;
        let service = serde_json::to_value(&service)
            .map_err(|e| Error::backend(format!("A gateway Service could not be written as JSON: {e}")))?;
        let k8s_namespace = naming::namespace_name(namespace);
        let name = naming::gateway_service_name(&gateway.name);
        let what = format!("Service {k8s_namespace}/{name} of gateway '{}'", gateway.name);
        let applied: Service = self.apply(&k8s_namespace, &name, &service, what).await?;
        Ok(gateway_service::deployed(&applied))
    }

    /// Deletes the Service of gateway `gateway_name` in Vamp namespace `namespace`; `Ok` when there is none.
    /// Does nothing when [`KubernetesConfig::create_services`] is off.
    pub async fn undeploy_gateway_service(&self, namespace: &str, gateway_name: &str) -> Result<()> {
        if !self.config.create_services {
            return Ok(());
        }
        let k8s_namespace = naming::namespace_name(namespace);
        let name = naming::gateway_service_name(gateway_name);
        let api: Api<Service> = Api::namespaced(self.client.clone(), &k8s_namespace);
        let operation = format!("delete Service {k8s_namespace}/{name} of gateway '{gateway_name}'");
        match self
            .call(
                || operation.clone(),
                api.delete(&name, &DeleteParams::background()),
            )
            .await?
        {
            Ok(_) => Ok(()),
            Err(e) if errors::is_not_found(&e) => Ok(()),
            Err(e) => Err(errors::map(&self.context(operation), e)),
        }
    }

    /// The gateway Services of Vamp namespace `namespace`, sorted by gateway name.
    pub async fn gateway_services(&self, namespace: &str) -> Result<Vec<DeployedGatewayService>> {
        let k8s_namespace = naming::namespace_name(namespace);
        let api: Api<Service> = Api::namespaced(self.client.clone(), &k8s_namespace);
        let params = ListParams::default().labels(&gateway_service::selector(namespace));
        let list = self
            .request(
                format!("list the gateway Services of {k8s_namespace}"),
                api.list(&params),
            )
            .await?;
        let mut deployed: Vec<DeployedGatewayService> =
            list.items.iter().filter_map(gateway_service::deployed).collect();
        deployed.sort_by(|a, b| a.gateway.cmp(&b.gateway));
        Ok(deployed)
    }

    /// Makes the gateway Services of `namespace` match `gateways`, as the original's `DeployedGateways` did:
    /// applies one per gateway and deletes those of gateways no longer given; returns what runs afterwards.
    /// `Ok` with nothing when [`KubernetesConfig::create_services`] is off.
    pub async fn sync_gateway_services(
        &self,
        namespace: &str,
        gateways: &[Gateway],
    ) -> Result<Vec<DeployedGatewayService>> {
        if !self.config.create_services {
            return Ok(Vec::new());
        }
        for stale in self.gateway_services(namespace).await? {
            if !gateways.iter().any(|g| g.name == stale.gateway) {
                self.undeploy_gateway_service(namespace, &stale.gateway).await?;
            }
        }
        let mut deployed = Vec::with_capacity(gateways.len());
        for gateway in gateways {
            if let Some(service) = self.deploy_gateway_service(namespace, gateway).await? {
                deployed.push(service);
            }
        }
        deployed.sort_by(|a, b| a.gateway.cmp(&b.gateway));
        Ok(deployed)
    }
}

/// The label selector of every Vamp service of a Vamp namespace.
fn namespace_selector(namespace: &str) -> String {
    format!(
        "{LABEL_NAMESPACE}={},{LABEL_DEPLOYMENT},{LABEL_CLUSTER},{LABEL_SERVICE}",
        naming::label_value(namespace)
    )
}

#[async_trait]
impl ContainerDriver for KubernetesDriver {
    /// `kubernetes`, the API server's `gitVersion` (asks `/version`), `container/docker` and `container/rkt`.
    async fn info(&self) -> Result<DriverInfo> {
        let version = self
            .request("read the version".to_string(), self.client.apiserver_version())
            .await?;
        Ok(DriverInfo {
            kind: "kubernetes".to_string(),
            version: version.git_version,
            deployable_types: DEPLOYABLE_TYPES.iter().map(|t| t.to_string()).collect(),
        })
    }

    /// Deployments labelled for the namespace and their pods, two requests; Deployments being deleted are left
    /// out.
    async fn list(&self, namespace: &str) -> Result<Vec<RunningService>> {
        let k8s_namespace = naming::namespace_name(namespace);
        let selector = namespace_selector(namespace);
        let params = ListParams::default().labels(&selector);
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &k8s_namespace);
        let deployments = self
            .request(
                format!("list the Deployments of {k8s_namespace}"),
                deployments.list(&params),
            )
            .await?;
        let mut services: Vec<RunningService> = if deployments.items.is_empty() {
            Vec::new()
        } else {
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), &k8s_namespace);
            let pods = self
                .request(format!("list the pods of {k8s_namespace}"), pods.list(&params))
                .await?;
            deployments
                .items
                .iter()
                .filter_map(|d| observed::running_service(d, &pods.items))
                .filter(|s| s.id.namespace == namespace)
                .collect()
        };
        services.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(services)
    }

    /// Server-side apply of the Deployment ([`manifest::deployment`]) under field manager `vamp`, forcing
    /// ownership; creates the Kubernetes namespace first when allowed.
    async fn deploy(&self, spec: &ServiceSpec) -> Result<()> {
        let k8s_namespace = naming::namespace_name(&spec.id.namespace);
        let deployment = manifest::deployment(spec, &k8s_namespace)?;
        let name = naming::deployment_name(&spec.id);
        let what = format!("Deployment {k8s_namespace}/{name} of service {}", spec.id);
        let _: Deployment = self.apply(&k8s_namespace, &name, &deployment, what).await?;
        Ok(())
    }

    /// Deletes the Deployment with the configured propagation; a Deployment that is not there is `Ok`.
    async fn undeploy(&self, id: &ServiceId) -> Result<()> {
        let k8s_namespace = naming::namespace_name(&id.namespace);
        let name = naming::deployment_name(id);
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &k8s_namespace);
        let operation = format!("delete Deployment {k8s_namespace}/{name} of service {id}");
        match self
            .call(|| operation.clone(), api.delete(&name, &self.delete_params()))
            .await?
        {
            Ok(_) => Ok(()),
            Err(e) if errors::is_not_found(&e) => Ok(()),
            Err(e) => Err(errors::map(&self.context(operation), e)),
        }
    }
}
