//! The double's objects and the API semantics it simulates: names validated as the API server does, a global
//! resource version bumped on every change, `generation` bumped on spec changes, server-side apply as
//! create-or-replace for one field manager, JSON merge patch (RFC 7386), deletion with propagation, allocation of
//! cluster IPs and node ports, and a deployment controller that keeps `replicas` pods per Deployment.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::selector;
use super::status::{self, Failure};

/// How long a Deployment deleted with `Foreground` propagation stays, marked, before its pods and it are gone.
pub const FOREGROUND_DELAY: Duration = Duration::from_secs(1);

/// The namespaced resources the double serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Deployments,
    Pods,
    Services,
}

impl Resource {
    pub fn plural(self) -> &'static str {
        match self {
            Resource::Deployments => "deployments",
            Resource::Pods => "pods",
            Resource::Services => "services",
        }
    }

    pub fn group(self) -> &'static str {
        match self {
            Resource::Deployments => "apps",
            Resource::Pods | Resource::Services => "",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Resource::Deployments => "Deployment",
            Resource::Pods => "Pod",
            Resource::Services => "Service",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Resource::Deployments => "apps/v1",
            Resource::Pods | Resource::Services => "v1",
        }
    }
}

type Key = (Resource, String, String);

/// Everything the double holds.
#[derive(Default)]
pub struct State {
    revision: u64,
    uids: u64,
    namespaces: BTreeMap<String, Value>,
    objects: BTreeMap<Key, Value>,
    deleting: BTreeMap<Key, Instant>,
    pod_ips: u32,
    cluster_ips: u32,
    node_ports: u16,
    pods_pending: bool,
    pub requests: Vec<String>,
    pub authorizations: Vec<String>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn is_dns_label(name: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 63
        && name.chars().next().is_some_and(ok_char)
        && name.chars().last().is_some_and(ok_char)
        && name.chars().all(|c| ok_char(c) || c == '-')
}

fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

fn is_dns1035_label(name: &str) -> bool {
    is_dns_label(name) && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

fn is_label_value(value: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric();
    value.is_empty()
        || (value.len() <= 63
            && value.chars().next().is_some_and(ok)
            && value.chars().last().is_some_and(ok)
            && value.chars().all(|c| ok(c) || "-_.".contains(c)))
}

fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

fn labels_of<'a>(object: &'a Value, pointer: &str) -> Option<&'a Map<String, Value>> {
    object.pointer(pointer).and_then(Value::as_object)
}

fn short_hash(value: &Value) -> String {
    let mut hasher = DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    format!("{:010x}", hasher.finish() & 0xff_ffff_ffff)
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (_, Some(_)) => {
            *target = json!({});
            merge_patch(target, patch);
        }
        _ => *target = patch.clone(),
    }
}

fn set(object: &mut Value, pointer: &str, value: Value) {
    let mut current = object;
    for segment in pointer.split('/').skip(1) {
        if !current.is_object() {
            *current = json!({});
        }
        let Some(map) = current.as_object_mut() else {
            return;
        };
        current = map.entry(segment.to_string()).or_insert(Value::Null);
    }
    *current = value;
}

impl State {
    fn next_revision(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }

    fn next_uid(&mut self) -> String {
        self.uids += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.uids)
    }

    pub fn set_pods_pending(&mut self, pending: bool) {
        self.pods_pending = pending;
        if !pending {
            let pending_pods: Vec<Key> = self
                .objects
                .iter()
                .filter(|((r, _, _), pod)| {
                    *r == Resource::Pods && pod.pointer("/status/phase") == Some(&json!("Pending"))
                })
                .map(|(k, _)| k.clone())
                .collect();
            for key in pending_pods {
                let status = self.pod_status();
                if let Some(pod) = self.objects.get_mut(&key) {
                    set(pod, "/status", status);
                }
            }
            self.reconcile_all();
        }
    }

    pub fn object(&self, resource: Resource, namespace: &str, name: &str) -> Option<Value> {
        self.objects
            .get(&(resource, namespace.to_string(), name.to_string()))
            .cloned()
    }

    pub fn namespace(&self, name: &str) -> Option<Value> {
        self.namespaces.get(name).cloned()
    }

    pub fn objects(&self, resource: Resource, namespace: &str) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((r, ns, _), _)| *r == resource && ns == namespace)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Finishes foreground deletions whose time has come, as the garbage collector would.
    pub fn collect_garbage(&mut self) {
        let due: Vec<Key> = self
            .deleting
            .iter()
            .filter(|(_, at)| at.elapsed() >= FOREGROUND_DELAY)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.deleting.remove(&key);
            self.delete_owned_pods(&key.1, &key.2);
            self.objects.remove(&key);
            self.next_revision();
        }
    }

    // --- namespaces -------------------------------------------------------------------------------------------

    pub fn create_namespace(&mut self, body: &Value) -> Result<(u16, Value), Failure> {
        let name = body
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !is_dns_label(&name) {
            return Err(Failure::invalid(
                "Namespace",
                "",
                &name,
                "metadata.name",
                "Invalid value: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
            ));
        }
        if self.namespaces.contains_key(&name) {
            return Err(Failure::already_exists("namespaces", "", &name));
        }
        let mut namespace = body.clone();
        self.stamp(&mut namespace, "v1", "Namespace", None);
        set(&mut namespace, "/status", json!({"phase": "Active"}));
        self.namespaces.insert(name, namespace.clone());
        Ok((201, namespace))
    }

    /// Deletes a namespace and everything in it at once (a real API server first marks it Terminating).
    pub fn delete_namespace(&mut self, name: &str) -> Result<(u16, Value), Failure> {
        let Some(namespace) = self.namespaces.remove(name) else {
            return Err(Failure::not_found("namespaces", "", name));
        };
        self.objects.retain(|(_, ns, _), _| ns != name);
        self.deleting.retain(|(_, ns, _), _| ns != name);
        self.next_revision();
        let uid = namespace.pointer("/metadata/uid").cloned().unwrap_or(Value::Null);
        Ok((200, status::success("namespaces", "", name, &uid)))
    }

    pub fn list_namespaces(&self) -> Value {
        json!({"apiVersion": "v1", "kind": "NamespaceList", "metadata": {"resourceVersion": self.revision.to_string()},
               "items": self.namespaces.values().cloned().collect::<Vec<_>>()})
    }

    fn stamp(&mut self, object: &mut Value, api_version: &str, kind: &str, namespace: Option<&str>) {
        set(object, "/apiVersion", json!(api_version));
        set(object, "/kind", json!(kind));
        let uid = self.next_uid();
        set(object, "/metadata/uid", json!(uid));
        set(object, "/metadata/creationTimestamp", json!(now()));
        let revision = self.next_revision();
        set(object, "/metadata/resourceVersion", json!(revision));
        if let Some(namespace) = namespace {
            set(object, "/metadata/namespace", json!(namespace));
        }
    }

    // --- generic namespaced objects ----------------------------------------------------------------------------

    pub fn get(&self, resource: Resource, namespace: &str, name: &str) -> Result<Value, Failure> {
        self.object(resource, namespace, name)
            .ok_or_else(|| Failure::not_found(resource.plural(), resource.group(), name))
    }

    pub fn list(
        &self,
        resource: Resource,
        namespace: &str,
        label_selector: Option<&str>,
    ) -> Result<Value, Failure> {
        let requirements =
            selector::parse(label_selector.unwrap_or_default()).map_err(Failure::bad_request)?;
        let items: Vec<Value> = self
            .objects(resource, namespace)
            .into_iter()
            .filter(|o| selector::matches(&requirements, labels_of(o, "/metadata/labels")))
            .collect();
        Ok(json!({
            "apiVersion": resource.api_version(), "kind": format!("{}List", resource.kind()),
            "metadata": {"resourceVersion": self.revision.to_string()}, "items": items,
        }))
    }

    fn validate(
        &self,
        resource: Resource,
        name: &str,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<(), Failure> {
        let invalid =
            |field: &str, why: &str| Failure::invalid(resource.kind(), resource.group(), name, field, why);
        let name_ok = match resource {
            Resource::Deployments | Resource::Pods => is_dns_subdomain(name),
            Resource::Services => is_dns1035_label(name),
        };
        if !name_ok {
            return Err(invalid(
                "metadata.name",
                &format!("Invalid value: \"{name}\": a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.'"),
            ));
        }
        for pointer in [
            "/metadata/labels",
            "/spec/template/metadata/labels",
            "/spec/selector/matchLabels",
        ] {
            for (key, value) in labels_of(object, pointer).into_iter().flatten() {
                let value = value.as_str().unwrap_or("\u{0}");
                if !is_label_key(key) || !is_label_value(value) {
                    return Err(invalid(
                        &pointer.trim_start_matches('/').replace('/', "."),
                        &format!("Invalid value: \"{value}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.' (key {key})"),
                    ));
                }
            }
        }
        if resource == Resource::Deployments {
            let selector = labels_of(object, "/spec/selector/matchLabels").filter(|m| !m.is_empty());
            let Some(selector) = selector else {
                return Err(invalid("spec.selector", "Required value"));
            };
            let template = labels_of(object, "/spec/template/metadata/labels");
            if !selector
                .iter()
                .all(|(k, v)| template.and_then(|t| t.get(k)) == Some(v))
            {
                return Err(invalid(
                    "spec.template.metadata.labels",
                    "Invalid value: `selector` does not match template `labels`",
                ));
            }
            let containers = object
                .pointer("/spec/template/spec/containers")
                .and_then(Value::as_array)
                .filter(|c| !c.is_empty());
            let Some(containers) = containers else {
                return Err(invalid("spec.template.spec.containers", "Required value"));
            };
            for container in containers {
                let container_name = container.get("name").and_then(Value::as_str).unwrap_or_default();
                if !is_dns_label(container_name) {
                    return Err(invalid(
                        "spec.template.spec.containers[].name",
                        "Invalid value: not a DNS-1123 label",
                    ));
                }
                if container
                    .get("image")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .is_empty()
                {
                    return Err(invalid("spec.template.spec.containers[].image", "Required value"));
                }
            }
            if let Some(old) = old {
                if old.pointer("/spec/selector") != object.pointer("/spec/selector") {
                    return Err(invalid("spec.selector", "Invalid value: field is immutable"));
                }
            }
        }
        if resource == Resource::Services {
            let ports = object
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .filter(|p| !p.is_empty());
            if ports.is_none() {
                return Err(invalid("spec.ports", "Required value"));
            }
            let kind = object
                .pointer("/spec/type")
                .and_then(Value::as_str)
                .unwrap_or("ClusterIP");
            if !["ClusterIP", "NodePort", "LoadBalancer"].contains(&kind) {
                return Err(invalid("spec.type", &format!("Unsupported value: \"{kind}\"")));
            }
        }
        Ok(())
    }

    fn check_identity(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        body: &Value,
    ) -> Result<(), Failure> {
        if let Some(given) = body.pointer("/metadata/name").and_then(Value::as_str) {
            if given != name {
                return Err(Failure::bad_request(format!(
                    "the name of the object ({given}) does not match the name on the URL ({name})"
                )));
            }
        }
        if let Some(given) = body.pointer("/metadata/namespace").and_then(Value::as_str) {
            if given != namespace {
                return Err(Failure::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        for (field, expected) in [("apiVersion", resource.api_version()), ("kind", resource.kind())] {
            if let Some(given) = body.get(field).and_then(Value::as_str) {
                if given != expected {
                    return Err(Failure::bad_request(format!(
                        "{field} must be {expected}, not {given}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Fills in what the API server defaults and allocates, keeping what `old` was given already.
    fn default_fields(&mut self, resource: Resource, object: &mut Value, old: Option<&Value>) {
        match resource {
            Resource::Deployments => {
                if object.pointer("/spec/replicas").is_none() {
                    set(object, "/spec/replicas", json!(1));
                }
            }
            Resource::Services => {
                let cluster_ip = old
                    .and_then(|o| o.pointer("/spec/clusterIP").cloned())
                    .or_else(|| object.pointer("/spec/clusterIP").cloned())
                    .unwrap_or_else(|| {
                        self.cluster_ips += 1;
                        json!(format!(
                            "10.96.{}.{}",
                            self.cluster_ips / 250,
                            self.cluster_ips % 250 + 1
                        ))
                    });
                set(object, "/spec/clusterIP", cluster_ip.clone());
                set(object, "/spec/clusterIPs", json!([cluster_ip]));
                if object.pointer("/spec/type").is_none() {
                    set(object, "/spec/type", json!("ClusterIP"));
                }
                let exposed = object.pointer("/spec/type") != Some(&json!("ClusterIP"));
                let old_ports: Vec<Value> = old
                    .and_then(|o| o.pointer("/spec/ports").and_then(Value::as_array).cloned())
                    .unwrap_or_default();
                let mut ports: Vec<Value> = object
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for port in &mut ports {
                    let number = port.get("port").cloned().unwrap_or(Value::Null);
                    if port.get("protocol").is_none() {
                        set(port, "/protocol", json!("TCP"));
                    }
                    if port.get("targetPort").is_none() {
                        set(port, "/targetPort", number.clone());
                    }
                    if exposed && port.get("nodePort").is_none() {
                        let kept = old_ports
                            .iter()
                            .find(|p| p.get("port") == Some(&number))
                            .and_then(|p| p.get("nodePort").cloned());
                        let node_port = kept.unwrap_or_else(|| {
                            self.node_ports += 1;
                            json!(30000 + self.node_ports)
                        });
                        set(port, "/nodePort", node_port);
                    }
                }
                set(object, "/spec/ports", Value::Array(ports));
                if object.pointer("/status").is_none() {
                    set(object, "/status", json!({"loadBalancer": {}}));
                }
            }
            Resource::Pods => {}
        }
    }

    fn require_namespace(&self, namespace: &str) -> Result<(), Failure> {
        if self.namespaces.contains_key(namespace) {
            Ok(())
        } else {
            Err(Failure::not_found("namespaces", "", namespace))
        }
    }

    /// POST: creates the object; 409 when it exists, 404 when the namespace does not.
    pub fn create(
        &mut self,
        resource: Resource,
        namespace: &str,
        body: &Value,
    ) -> Result<(u16, Value), Failure> {
        let name = body
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if resource == Resource::Pods {
            return Err(Failure::method_not_allowed(
                "POST pods (the double only makes pods for Deployments)",
            ));
        }
        self.check_identity(resource, namespace, &name, body)?;
        self.validate(resource, &name, body, None)?;
        self.require_namespace(namespace)?;
        let key = (resource, namespace.to_string(), name.clone());
        if self.objects.contains_key(&key) {
            return Err(Failure::already_exists(
                resource.plural(),
                resource.group(),
                &name,
            ));
        }
        let mut object = body.clone();
        self.default_fields(resource, &mut object, None);
        self.stamp(
            &mut object,
            resource.api_version(),
            resource.kind(),
            Some(namespace),
        );
        if resource == Resource::Deployments {
            set(&mut object, "/metadata/generation", json!(1));
        }
        self.objects.insert(key, object);
        self.reconcile(resource, namespace, &name);
        Ok((201, self.get(resource, namespace, &name)?))
    }

    /// Stores `updated` in place of `old` when it differs: new resource version, generation bumped on spec change.
    fn update(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        old: Value,
        mut updated: Value,
    ) -> Result<(u16, Value), Failure> {
        self.validate(resource, name, &updated, Some(&old))?;
        self.default_fields(resource, &mut updated, Some(&old));
        for preserved in [
            "uid",
            "creationTimestamp",
            "resourceVersion",
            "generation",
            "deletionTimestamp",
            "finalizers",
        ] {
            let pointer = format!("/metadata/{preserved}");
            match old.pointer(&pointer) {
                Some(value) => set(&mut updated, &pointer, value.clone()),
                None => {
                    if let Some(meta) = updated.get_mut("metadata").and_then(Value::as_object_mut) {
                        meta.remove(preserved);
                    }
                }
            }
        }
        if let Some(status) = old.get("status") {
            set(&mut updated, "/status", status.clone());
        }
        set(&mut updated, "/apiVersion", json!(resource.api_version()));
        set(&mut updated, "/kind", json!(resource.kind()));
        set(&mut updated, "/metadata/name", json!(name));
        set(&mut updated, "/metadata/namespace", json!(namespace));
        if updated == old {
            return Ok((200, old));
        }
        if resource == Resource::Deployments && updated.get("spec") != old.get("spec") {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            set(&mut updated, "/metadata/generation", json!(generation + 1));
        }
        let revision = self.next_revision();
        set(&mut updated, "/metadata/resourceVersion", json!(revision));
        self.objects
            .insert((resource, namespace.to_string(), name.to_string()), updated);
        self.reconcile(resource, namespace, name);
        Ok((200, self.get(resource, namespace, name)?))
    }

    /// PUT: replaces the object; its `resourceVersion`, when given, must be the current one.
    pub fn replace(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        body: &Value,
    ) -> Result<(u16, Value), Failure> {
        self.check_identity(resource, namespace, name, body)?;
        let old = self.get(resource, namespace, name)?;
        if let Some(given) = body.pointer("/metadata/resourceVersion") {
            if Some(given) != old.pointer("/metadata/resourceVersion") {
                return Err(Failure::conflict(resource.plural(), resource.group(), name));
            }
        }
        self.update(resource, namespace, name, old, body.clone())
    }

    /// PATCH with `application/merge-patch+json`.
    pub fn merge(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<(u16, Value), Failure> {
        let old = self.get(resource, namespace, name)?;
        let mut updated = old.clone();
        merge_patch(&mut updated, patch);
        self.update(resource, namespace, name, old, updated)
    }

    /// PATCH with `application/apply-patch+yaml`: creates the object, or replaces its labels, annotations and
    /// spec with the applied ones (the result of server-side apply when one field manager owns them all).
    pub fn apply(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        body: &Value,
    ) -> Result<(u16, Value), Failure> {
        if resource == Resource::Pods {
            return Err(Failure::method_not_allowed("PATCH pods"));
        }
        if body.get("apiVersion").is_none() || body.get("kind").is_none() {
            return Err(Failure::bad_request(
                "apiVersion and kind must be set in an applied configuration",
            ));
        }
        self.check_identity(resource, namespace, name, body)?;
        let Some(old) = self.object(resource, namespace, name) else {
            let mut created = body.clone();
            set(&mut created, "/metadata/name", json!(name));
            return self.create(resource, namespace, &created);
        };
        let mut updated = old.clone();
        for pointer in ["/metadata/labels", "/metadata/annotations", "/spec"] {
            match body.pointer(pointer) {
                Some(value) => set(&mut updated, pointer, value.clone()),
                None => {
                    if let Some((parent, field)) = pointer.rsplit_once('/') {
                        let parent = if parent.is_empty() {
                            updated.as_object_mut()
                        } else {
                            updated.pointer_mut(parent).and_then(Value::as_object_mut)
                        };
                        if let Some(parent) = parent {
                            parent.remove(field);
                        }
                    }
                }
            }
        }
        self.update(resource, namespace, name, old, updated)
    }

    /// DELETE with a propagation policy (default `Background`, as for Deployments).
    pub fn delete(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        propagation: &str,
    ) -> Result<(u16, Value), Failure> {
        let key = (resource, namespace.to_string(), name.to_string());
        let old = self.get(resource, namespace, name)?;
        let uid = old.pointer("/metadata/uid").cloned().unwrap_or(Value::Null);
        match (resource, propagation) {
            (Resource::Deployments, "Foreground") => {
                if !self.deleting.contains_key(&key) {
                    let mut marked = old;
                    set(&mut marked, "/metadata/deletionTimestamp", json!(now()));
                    set(&mut marked, "/metadata/finalizers", json!(["foregroundDeletion"]));
                    let revision = self.next_revision();
                    set(&mut marked, "/metadata/resourceVersion", json!(revision));
                    self.objects.insert(key.clone(), marked);
                    self.deleting.insert(key.clone(), Instant::now());
                }
                Ok((200, self.get(resource, namespace, name)?))
            }
            (Resource::Deployments, "Orphan") => {
                for pod in self.owned_pods(namespace, name) {
                    if let Some(object) = self
                        .objects
                        .get_mut(&(Resource::Pods, namespace.to_string(), pod))
                    {
                        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                            meta.remove("ownerReferences");
                        }
                    }
                }
                self.objects.remove(&key);
                self.next_revision();
                Ok((
                    200,
                    status::success(resource.plural(), resource.group(), name, &uid),
                ))
            }
            (Resource::Deployments, "Background" | "") => {
                self.delete_owned_pods(namespace, name);
                self.objects.remove(&key);
                self.next_revision();
                Ok((
                    200,
                    status::success(resource.plural(), resource.group(), name, &uid),
                ))
            }
            (Resource::Deployments, other) => {
                Err(Failure::bad_request(format!("unknown propagationPolicy {other}")))
            }
            _ => {
                self.objects.remove(&key);
                self.deleting.remove(&key);
                self.next_revision();
                Ok((
                    200,
                    status::success(resource.plural(), resource.group(), name, &uid),
                ))
            }
        }
    }

    // --- the deployment controller -----------------------------------------------------------------------------

    fn owned_pods(&self, namespace: &str, deployment: &str) -> Vec<String> {
        self.objects
            .iter()
            .filter(|((r, ns, _), pod)| {
                *r == Resource::Pods
                    && ns == namespace
                    && pod
                        .pointer("/metadata/ownerReferences/0/name")
                        .and_then(Value::as_str)
                        == Some(deployment)
            })
            .map(|((_, _, name), _)| name.clone())
            .collect()
    }

    fn delete_owned_pods(&mut self, namespace: &str, deployment: &str) {
        for pod in self.owned_pods(namespace, deployment) {
            self.objects.remove(&(Resource::Pods, namespace.to_string(), pod));
        }
    }

    fn pod_status(&mut self) -> Value {
        if self.pods_pending {
            return json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"},
                {"type": "Ready", "status": "False"}]});
        }
        self.pod_ips += 1;
        json!({
            "phase": "Running",
            "podIP": format!("10.0.{}.{}", self.pod_ips / 250, self.pod_ips % 250 + 1),
            "hostIP": "192.168.49.2",
            "startTime": now(),
            "conditions": [
                {"type": "PodScheduled", "status": "True"}, {"type": "Initialized", "status": "True"},
                {"type": "ContainersReady", "status": "True"}, {"type": "Ready", "status": "True"}],
        })
    }

    fn reconcile_all(&mut self) {
        let deployments: Vec<Key> = self
            .objects
            .keys()
            .filter(|(r, _, _)| *r == Resource::Deployments)
            .cloned()
            .collect();
        for (_, namespace, name) in deployments {
            self.reconcile(Resource::Deployments, &namespace, &name);
        }
    }

    /// Keeps `spec.replicas` pods of the current template for a Deployment: pods of an older template are
    /// replaced at once, missing ones created (`<deployment>-<template hash>-<i>`), extra ones removed; then the
    /// Deployment's status is brought up to date.
    fn reconcile(&mut self, resource: Resource, namespace: &str, name: &str) {
        if resource != Resource::Deployments {
            return;
        }
        let key = (resource, namespace.to_string(), name.to_string());
        let Some(deployment) = self.objects.get(&key).cloned() else {
            return;
        };
        if self.deleting.contains_key(&key) {
            return;
        }
        let template = deployment
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(Value::Null);
        let hash = short_hash(&template);
        let replicas = deployment
            .pointer("/spec/replicas")
            .and_then(Value::as_u64)
            .unwrap_or(1) as usize;
        let mut current: Vec<String> = Vec::new();
        for pod in self.owned_pods(namespace, name) {
            let pod_key = (Resource::Pods, namespace.to_string(), pod.clone());
            let pod_hash = self
                .objects
                .get(&pod_key)
                .and_then(|p| p.pointer("/metadata/labels/pod-template-hash").cloned());
            if pod_hash == Some(json!(hash)) {
                current.push(pod);
            } else {
                self.objects.remove(&pod_key);
                self.next_revision();
            }
        }
        let index_of = |pod: &str| {
            pod.rsplit('-')
                .next()
                .and_then(|i| i.parse::<usize>().ok())
                .unwrap_or(usize::MAX)
        };
        current.sort_by_key(|p| index_of(p));
        while current.len() > replicas {
            if let Some(extra) = current.pop() {
                self.objects
                    .remove(&(Resource::Pods, namespace.to_string(), extra));
                self.next_revision();
            }
        }
        let mut index = 0;
        while current.len() < replicas {
            let pod_name = format!("{name}-{hash}-{index}");
            index += 1;
            if current.contains(&pod_name) {
                continue;
            }
            let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
            set(&mut labels, "/pod-template-hash", json!(hash));
            let mut pod = json!({
                "metadata": {
                    "name": pod_name, "labels": labels,
                    "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or(json!({})),
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                         "uid": deployment.pointer("/metadata/uid"), "controller": true}],
                },
                "spec": template.get("spec").cloned().unwrap_or(json!({})),
            });
            let status = self.pod_status();
            set(&mut pod, "/status", status);
            self.stamp(&mut pod, "v1", "Pod", Some(namespace));
            self.objects
                .insert((Resource::Pods, namespace.to_string(), pod_name.clone()), pod);
            current.push(pod_name);
        }
        let ready = current
            .iter()
            .filter_map(|p| {
                self.objects
                    .get(&(Resource::Pods, namespace.to_string(), p.clone()))
            })
            .filter(|p| p.pointer("/status/phase") == Some(&json!("Running")))
            .count();
        let status = json!({
            "observedGeneration": deployment.pointer("/metadata/generation"),
            "replicas": current.len(), "updatedReplicas": current.len(),
            "readyReplicas": ready, "availableReplicas": ready,
        });
        if deployment.get("status") != Some(&status) {
            let revision = self.next_revision();
            if let Some(stored) = self.objects.get_mut(&key) {
                set(stored, "/status", status);
                set(stored, "/metadata/resourceVersion", json!(revision));
            }
        }
    }
}
