//! `embedded`: Vamp embedded in a program with its own in-process container driver.
//!
//! ```text
//! cargo run -p vamp-examples --bin embedded
//! ```
//!
//! The driver below runs every service instance as a tokio task serving HTTP on a loopback port, so nothing
//! outside this process is needed. The program builds a `Vamp` with that driver (memory stores, memory KV, the
//! HAProxy marshaller writing the gateway configuration into the KV store), runs its loops, deploys a blueprint
//! through the facade, prints the events, the deployment's progress and an answer of each instance, merges a
//! second version, slices the first away, and shuts down.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use vamp_core::driver::{ContainerDriver, DriverInfo, RunningService, ServiceId, ServiceSpec};
use vamp_core::dsl;
use vamp_core::model::{Artifact, EventQuery, Health, Instance, Kind, Percentage, Ref, Route};
use vamp_core::{Error, Result};
use vamp_server::ops::converged;
use vamp_server::{ServerSettings, Vamp, WriteOptions};

/// One running service: its spec and one task per instance.
struct TaskService {
    spec: ServiceSpec,
    instances: Vec<(Instance, JoinHandle<()>)>,
}

/// A `ContainerDriver` that runs `greeting` deployables as tokio tasks answering every HTTP request with the
/// deployable's definition.
#[derive(Default)]
struct TaskDriver {
    services: Mutex<BTreeMap<ServiceId, TaskService>>,
}

async fn serve(mut stream: TcpStream, body: String) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
}

#[async_trait]
impl ContainerDriver for TaskDriver {
    async fn info(&self) -> Result<DriverInfo> {
        Ok(DriverInfo {
            kind: "tasks".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            deployable_types: vec!["greeting".into()],
        })
    }

    async fn list(&self, namespace: &str) -> Result<Vec<RunningService>> {
        let services = self
            .services
            .lock()
            .map_err(|_| Error::backend("driver state poisoned"))?;
        Ok(services
            .values()
            .filter(|s| s.spec.id.namespace == namespace)
            .map(|s| {
                let count = s.instances.len() as u32;
                RunningService {
                    id: s.spec.id.clone(),
                    deployable: s.spec.deployable.clone(),
                    scale: s.spec.scale.clone(),
                    instances: s.instances.iter().map(|(i, _)| i.clone()).collect(),
                    health: Health {
                        staged: 0,
                        running: count,
                        healthy: count,
                        unhealthy: 0,
                    },
                    environment: s.spec.environment.clone(),
                    health_checks: None,
                }
            })
            .collect())
    }

    async fn deploy(&self, spec: &ServiceSpec) -> Result<()> {
        if spec.deployable.kind != "greeting" {
            return Err(Error::unsupported(format!(
                "The task driver runs 'greeting' deployables, not '{}'.",
                spec.deployable.kind
            )));
        }
        if let Some(existing) = self
            .services
            .lock()
            .map_err(|_| Error::backend("poisoned"))?
            .get(&spec.id)
        {
            if existing.spec == *spec {
                return Ok(());
            }
        }
        let mut instances = Vec::new();
        for i in 0..spec.scale.instances {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| Error::unavailable(format!("no loopback port: {e}")))?;
            let port = listener
                .local_addr()
                .map_err(|e| Error::backend(e.to_string()))?
                .port();
            let body = format!(
                "{} (instance {i} of {})\n",
                spec.deployable.definition, spec.id.service
            );
            let task = tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, body.clone()));
                }
            });
            let instance = Instance {
                name: format!("{}-{i}", spec.id.service.replace(':', "-")),
                host: "127.0.0.1".into(),
                ports: spec.ports.iter().map(|p| (p.name.clone(), port)).collect(),
                deployed: true,
            };
            instances.push((instance, task));
        }
        println!("  driver: started {} instance(s) of {}", instances.len(), spec.id);
        let old = self
            .services
            .lock()
            .map_err(|_| Error::backend("poisoned"))?
            .insert(
                spec.id.clone(),
                TaskService {
                    spec: spec.clone(),
                    instances,
                },
            );
        for (_, task) in old.into_iter().flat_map(|s| s.instances) {
            task.abort();
        }
        Ok(())
    }

    async fn undeploy(&self, id: &ServiceId) -> Result<()> {
        let removed = self
            .services
            .lock()
            .map_err(|_| Error::backend("poisoned"))?
            .remove(id);
        if let Some(service) = removed {
            println!("  driver: stopped {id}");
            for (_, task) in service.instances {
                task.abort();
            }
        }
        Ok(())
    }
}

async fn http_get(port: u16) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return "(no answer)".into();
    };
    let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer).await;
    answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string()
}

async fn show(vamp: &Vamp) -> Result<()> {
    let Some(shop) = vamp.deployment("hello").await? else {
        println!("  deployment 'hello' is gone");
        return Ok(());
    };
    for cluster in &shop.clusters {
        for service in &cluster.services {
            println!(
                "  {}/{}: {:?} {} with {} instance(s)",
                cluster.name,
                service.breed.name,
                service.status.intention,
                service.status.phase.name(),
                service.instances.len()
            );
            for instance in &service.instances {
                for port in instance.ports.values() {
                    println!("    {} answers: {}", instance.name, http_get(*port).await);
                }
            }
        }
    }
    Ok(())
}

const V1: &str = "
name: hello
gateways:
  9099/http: greeter/web
clusters:
  greeter:
    services:
      breed:
        name: greeter:1.0
        deployable: {type: greeting, definition: 'Hello from version 1'}
        ports: {web: 8080/http}
      scale: {cpu: 0.1, memory: 16MB, instances: 2}
";

const V2: &str = "
name: hello
clusters:
  greeter:
    services:
      breed:
        name: greeter:2.0
        deployable: {type: greeting, definition: 'Hello from version 2'}
        ports: {web: 8080/http}
      scale: {cpu: 0.1, memory: 16MB, instances: 1}
";

#[tokio::main]
async fn main() -> Result<()> {
    let mut settings = ServerSettings::default();
    settings.synchronization.busy_period_ms = 50;
    let vamp = Vamp::builder()
        .driver(Arc::new(TaskDriver::default()))
        .config(settings)
        .build()?;

    let mut events = vamp.subscribe(&EventQuery::default()).await?;
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            let tags: Vec<&str> = event
                .tags
                .iter()
                .map(String::as_str)
                .filter(|t| {
                    !event
                        .tags
                        .iter()
                        .any(|o| o.len() > t.len() && o.starts_with(&format!("{t}:")))
                })
                .collect();
            println!("  event [{}] {}", event.kind, tags.join(" "));
        }
    });

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let loops = {
        let vamp = vamp.clone();
        tokio::spawn(async move {
            vamp.run(async {
                let _ = stopped.await;
            })
            .await
        })
    };

    println!("deploying 'hello' (greeter:1.0, 2 instances, gateway on 9099)");
    let v1 = Artifact::Blueprint(dsl::read_deployment_request(V1)?);
    vamp.deploy("hello", v1, &WriteOptions::with_source(V1)).await?;
    vamp.wait_for("hello", |d| d.is_some_and(converged), Duration::from_secs(10))
        .await?;
    show(&vamp).await?;

    println!("merging a canary (greeter:2.0) and sending it 10% of the traffic");
    let v2 = Artifact::Blueprint(dsl::read_deployment_request(V2)?);
    vamp.deploy("hello", v2, &WriteOptions::with_source(V2)).await?;
    vamp.wait_for(
        "hello",
        |d| {
            d.is_some_and(|d| converged(d) && d.clusters.iter().map(|c| c.services.len()).sum::<usize>() == 2)
        },
        Duration::from_secs(10),
    )
    .await?;
    let Some(Artifact::Gateway(mut gateway)) = vamp.get(Kind::Gateway, "hello/greeter/web").await? else {
        return Err(Error::not_found(
            "the internal gateway hello/greeter/web is not planned",
        ));
    };
    for route in &mut gateway.routes {
        let weight = if route.path.0.contains("greeter:1.0") {
            90
        } else {
            10
        };
        route.route = Ref::Inline(Route {
            weight: Some(Percentage(weight)),
            ..Route::default()
        });
    }
    vamp.update(Artifact::Gateway(gateway), &WriteOptions::default())
        .await?;
    show(&vamp).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let config = vamp
        .gateway_configuration("haproxy", "2.6")
        .await?
        .unwrap_or_default();
    println!(
        "  the HAProxy configuration in the KV store has {} lines; its frontends:",
        config.lines().count()
    );
    for line in config.lines().filter(|l| l.starts_with("frontend")) {
        println!("    {line}");
    }

    println!("moving all traffic to greeter:2.0 and slicing greeter:1.0 away");
    let Some(Artifact::Gateway(mut gateway)) = vamp.get(Kind::Gateway, "hello/greeter/web").await? else {
        return Err(Error::not_found(
            "the internal gateway hello/greeter/web is not planned",
        ));
    };
    for route in &mut gateway.routes {
        let weight = if route.path.0.contains("greeter:1.0") {
            0
        } else {
            100
        };
        route.route = Ref::Inline(Route {
            weight: Some(Percentage(weight)),
            ..Route::default()
        });
    }
    vamp.update(Artifact::Gateway(gateway), &WriteOptions::default())
        .await?;
    let old = Artifact::Blueprint(dsl::read_deployment_request(
        "name: hello\nclusters:\n  greeter:\n    services:\n      breed: greeter:1.0\n",
    )?);
    vamp.undeploy("hello", old, &WriteOptions::default()).await?;
    vamp.wait_for(
        "hello",
        |d| {
            d.is_some_and(|d| converged(d) && d.clusters.iter().map(|c| c.services.len()).sum::<usize>() == 1)
        },
        Duration::from_secs(10),
    )
    .await?;
    show(&vamp).await?;

    println!("removing the deployment");
    vamp.delete(Kind::Deployment, "hello", &WriteOptions::default())
        .await?;
    vamp.wait_for("hello", |d| d.is_none(), Duration::from_secs(10))
        .await?;
    show(&vamp).await?;

    let _ = stop.send(());
    loops
        .await
        .map_err(|e| Error::backend(format!("the loops ended abnormally: {e}")))??;
    println!("done");
    Ok(())
}
