//! Reading the server's JSON for display and for `--wait`: the services of a deployment with their status,
//! the routes of a gateway, and the table of each kind for `list` and `describe`.

use serde_json::Value;

use super::output::{cell, table};

/// One service of a deployment as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    /// The cluster.
    pub cluster: String,
    /// The breed name.
    pub breed: String,
    /// The deployable.
    pub deployable: String,
    /// `Deployment` or `Undeployment`.
    pub intention: String,
    /// `Initiated`, `Updating`, `Done` or `Failed`.
    pub phase: String,
    /// Why it failed.
    pub notification: Option<String>,
    /// Instances running.
    pub instances: usize,
}

impl ServiceView {
    /// Deployed and done.
    pub fn is_done(&self) -> bool {
        self.intention == "Deployment" && self.phase == "Done"
    }

    /// Failed (either way).
    pub fn is_failed(&self) -> bool {
        self.phase == "Failed"
    }

    /// `Deployed`, `Deploying (Updating)`, `Undeploying (…)`, `Failed: …`.
    pub fn status(&self) -> String {
        if self.is_failed() {
            return match &self.notification {
                Some(n) => format!("Failed: {n}"),
                None => "Failed".into(),
            };
        }
        match (self.intention.as_str(), self.phase.as_str()) {
            ("Deployment", "Done") => "Deployed".into(),
            ("Undeployment", "Done") => "Undeployed".into(),
            ("Undeployment", p) => format!("Undeploying ({p})"),
            (_, p) => format!("Deploying ({p})"),
        }
    }
}

/// The services of a deployment document (`clusters: {name: {services: [...]}}`).
pub fn services(deployment: &Value) -> Vec<ServiceView> {
    let mut out = Vec::new();
    let Some(clusters) = deployment.get("clusters").and_then(Value::as_object) else {
        return out;
    };
    for (cluster, c) in clusters {
        let Some(list) = c.get("services").and_then(Value::as_array) else {
            continue;
        };
        for s in list {
            let status = s.get("status");
            let phase = status.and_then(|st| st.get("phase"));
            let breed = s.get("breed");
            out.push(ServiceView {
                cluster: cluster.clone(),
                breed: breed
                    .and_then(|b| b.get("name").or_else(|| b.get("ref")))
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_string(),
                deployable: breed
                    .and_then(|b| b.get("deployable"))
                    .map(|d| match d {
                        Value::Object(m) => cell(m.get("definition")),
                        other => cell(Some(other)),
                    })
                    .unwrap_or_else(|| "-".into()),
                intention: status
                    .and_then(|st| st.get("intention"))
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_string(),
                phase: phase
                    .and_then(|p| p.get("name").or(Some(p)))
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_string(),
                notification: phase
                    .and_then(|p| p.get("notification"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                instances: s.get("instances").and_then(Value::as_array).map_or(0, Vec::len),
            });
        }
    }
    out
}

/// A deployment's status in one word or fraction: `Deployed`, `Deploying 1/3`, `Failed`.
pub fn deployment_status(deployment: &Value) -> String {
    let services = services(deployment);
    if services.iter().any(ServiceView::is_failed) {
        return "Failed".into();
    }
    let done = services.iter().filter(|s| s.is_done()).count();
    if done == services.len() {
        "Deployed".into()
    } else if services.iter().any(|s| s.intention == "Undeployment") {
        format!("Undeploying {done}/{}", services.len())
    } else {
        format!("Deploying {done}/{}", services.len())
    }
}

/// One route of a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteView {
    /// The route's path (its key in `routes`).
    pub path: String,
    /// The weight (`90%`).
    pub weight: String,
    /// The condition, if any.
    pub condition: String,
    /// The condition strength.
    pub strength: String,
    /// `host:port` targets.
    pub targets: String,
}

/// The routes of a gateway document (`routes: {path: {weight, condition, condition_strength, targets}}`).
pub fn routes(gateway: &Value) -> Vec<RouteView> {
    let Some(routes) = gateway.get("routes").and_then(Value::as_object) else {
        return Vec::new();
    };
    routes
        .iter()
        .map(|(path, r)| RouteView {
            path: path.clone(),
            weight: cell(r.get("weight")),
            condition: match r.get("condition") {
                Some(Value::Object(c)) => cell(c.get("condition").or_else(|| c.get("ref"))),
                other => cell(other),
            },
            strength: cell(r.get("condition_strength")),
            targets: r
                .get("targets")
                .and_then(Value::as_array)
                .map(|ts| {
                    ts.iter()
                        .map(|t| match (t.get("host"), t.get("port")) {
                            (Some(h), Some(p)) => format!("{}:{}", cell(Some(h)), cell(Some(p))),
                            _ => cell(t.get("url").or(Some(t))),
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_else(|| "-".into()),
        })
        .collect()
}

/// The `list` table of `kind` (plural) over `items`.
pub fn list_table(kind: &str, items: &[Value]) -> String {
    let name = |v: &Value| cell(v.get("name"));
    match kind {
        "deployments" => table(
            &["NAME", "CLUSTERS", "PORTS", "STATUS"],
            &items
                .iter()
                .map(|d| {
                    vec![
                        name(d),
                        keys(d.get("clusters")),
                        d.get("gateways")
                            .and_then(Value::as_object)
                            .map(|g| {
                                g.iter()
                                    .map(|(k, v)| format!("{k}:{}", cell(v.get("port"))))
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "-".into()),
                        deployment_status(d),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        "gateways" => table(
            &[
                "NAME",
                "PORT",
                "SERVICE HOST",
                "SERVICE PORT",
                "STICKY",
                "TYPE",
                "ROUTES",
            ],
            &items
                .iter()
                .map(|g| {
                    let n = name(g);
                    let internal = n.split('/').count() == 3;
                    vec![
                        n,
                        cell(g.get("port")),
                        cell(g.get("service").and_then(|s| s.get("host"))),
                        cell(g.get("service").and_then(|s| s.get("port"))),
                        cell(g.get("sticky")),
                        if internal { "internal" } else { "external" }.into(),
                        routes(g)
                            .iter()
                            .map(|r| format!("{}@{}", r.path, r.weight))
                            .collect::<Vec<_>>()
                            .join(","),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        "blueprints" => table(
            &["NAME", "CLUSTERS"],
            &items
                .iter()
                .map(|b| vec![name(b), keys(b.get("clusters"))])
                .collect::<Vec<_>>(),
        ),
        "breeds" => table(
            &["NAME", "DEPLOYABLE"],
            &items
                .iter()
                .map(|b| {
                    vec![
                        name(b),
                        match b.get("deployable") {
                            Some(Value::Object(m)) => cell(m.get("definition")),
                            other => cell(other),
                        },
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        "workflows" => table(
            &["NAME", "SCHEDULE", "STATUS", "BREED"],
            &items
                .iter()
                .map(|w| {
                    vec![
                        name(w),
                        match w.get("schedule") {
                            Some(Value::Object(m)) => m.keys().cloned().collect::<Vec<_>>().join(","),
                            other => cell(other),
                        },
                        cell(w.get("status")),
                        cell(
                            w.get("breed")
                                .and_then(|b| b.get("name").or_else(|| b.get("reference")).or(Some(b))),
                        ),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        "events" => table(
            &["TIMESTAMP", "TYPE", "TAGS", "VALUE"],
            &items
                .iter()
                .map(|e| {
                    let mut value = cell(e.get("value"));
                    if value.chars().count() > 60 {
                        value = value.chars().take(57).collect::<String>() + "...";
                    }
                    vec![
                        cell(e.get("timestamp")),
                        cell(e.get("type")),
                        e.get("tags")
                            .and_then(Value::as_array)
                            .map(|t| t.iter().map(|x| cell(Some(x))).collect::<Vec<_>>().join(","))
                            .unwrap_or_else(|| "-".into()),
                        value.replace('\n', " "),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        _ => table(
            &["NAME"],
            &items.iter().map(|a| vec![name(a)]).collect::<Vec<_>>(),
        ),
    }
}

/// The `describe` tables of a deployment (services and routes) or gateway (header and routes); `None` for
/// other kinds, which are described as YAML.
pub fn describe_table(kind: &str, artifact: &Value) -> Option<String> {
    match kind {
        "deployments" => {
            let mut out = format!(
                "Name:   {}\nStatus: {}\n\n",
                cell(artifact.get("name")),
                deployment_status(artifact)
            );
            out.push_str(&table(
                &["CLUSTER", "SERVICE", "DEPLOYABLE", "STATUS", "INSTANCES"],
                &services(artifact)
                    .iter()
                    .map(|s| {
                        vec![
                            s.cluster.clone(),
                            s.breed.clone(),
                            s.deployable.clone(),
                            s.status(),
                            s.instances.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            ));
            let mut rows = Vec::new();
            if let Some(clusters) = artifact.get("clusters").and_then(Value::as_object) {
                for (c, cluster) in clusters {
                    for (port, g) in cluster
                        .get("gateways")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        for r in routes(g) {
                            rows.push(vec![
                                format!("{c}/{port}"),
                                r.path,
                                r.weight,
                                r.condition,
                                r.strength,
                            ]);
                        }
                    }
                }
            }
            if !rows.is_empty() {
                out.push('\n');
                out.push_str(&table(
                    &["GATEWAY", "ROUTE", "WEIGHT", "CONDITION", "STRENGTH"],
                    &rows,
                ));
            }
            Some(out)
        }
        "gateways" => {
            let mut out = format!(
                "Name:         {}\nPort:         {}\nService host: {}\nService port: {}\nSticky:       {}\n\n",
                cell(artifact.get("name")),
                cell(artifact.get("port")),
                cell(artifact.get("service").and_then(|s| s.get("host"))),
                cell(artifact.get("service").and_then(|s| s.get("port"))),
                cell(artifact.get("sticky")),
            );
            out.push_str(&table(
                &["ROUTE", "WEIGHT", "CONDITION", "STRENGTH", "TARGETS"],
                &routes(artifact)
                    .into_iter()
                    .map(|r| vec![r.path, r.weight, r.condition, r.strength, r.targets])
                    .collect::<Vec<_>>(),
            ));
            Some(out)
        }
        _ => None,
    }
}

fn keys(map: Option<&Value>) -> String {
    map.and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(","))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}
