//! Choosing a container driver by URL: [`DriverUrl::parse`] reads and checks the URL, [`connect`] opens the
//! driver it names.
//!
//! | URL | driver | feature |
//! |---|---|---|
//! | `process://[state dir]` | local processes ([`crate::process::ProcessDriver`]); state dir default `./vamp-data/processes` | `process` |
//! | `memory://` | [`vamp_core::memory::MemoryDriver`]: records specs, runs nothing; for tests and trials | — |
//! | `docker://[unix socket path or host:port]` | the Docker engine API | `docker` |
//! | `kubernetes://[API server URL]` | a Kubernetes API server | `kubernetes` |
//! | `plugin:///absolute/path/libdriver.so` | a driver plugin loaded at run time, from an allowed directory | `plugin` |
//!
//! The process state directory is written as the rest of the URL: `process://./vamp-data/processes` (relative
//! to the current directory), `process:///var/lib/vamp/processes` (absolute). An unknown scheme is `Invalid`
//! and lists the known ones; a scheme whose driver this build leaves out is `Unsupported` naming the feature.

use std::path::PathBuf;
use std::sync::Arc;

use vamp_core::driver::ContainerDriver;
use vamp_core::memory::MemoryDriver;
use vamp_core::{Error, Result};

/// The schemes [`connect`] knows, in the order error messages list them.
pub const SCHEMES: [&str; 5] = ["process", "memory", "docker", "kubernetes", "plugin"];

/// The state directory of `process://` without a path.
pub const DEFAULT_PROCESS_STATE_DIR: &str = "./vamp-data/processes";

/// A checked driver URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverUrl {
    /// `process://[dir]`: local processes keeping their state in `state_dir`.
    Process {
        /// The state directory as written (relative paths are relative to the current directory).
        state_dir: PathBuf,
    },
    /// `memory://`.
    Memory,
    /// `docker://…`: the whole URL, for the Docker driver to read.
    Docker {
        /// The URL as given.
        url: String,
    },
    /// `kubernetes://…`: the whole URL, for the Kubernetes driver to read.
    Kubernetes {
        /// The URL as given.
        url: String,
    },
    /// `plugin:///path/lib.so`: the plugin library.
    Plugin {
        /// The absolute path of the library.
        path: PathBuf,
    },
}

impl DriverUrl {
    /// Reads `url`; fails with `Invalid` saying what is wrong and what a correct URL looks like.
    pub fn parse(url: &str) -> Result<DriverUrl> {
        let bad = |why: String| Error::invalid(format!("The container driver URL '{url}' {why}"));
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad(format!(
                "has no scheme; write one of {}, as in 'process://./vamp-data/processes'.",
                listed()
            )));
        };
        if let Some(c) = url.chars().find(|c| c.is_control()) {
            return Err(bad(format!("contains {c:?}; URLs take no control characters.")));
        }
        let scheme = scheme.to_ascii_lowercase();
        let no_query = |what: &str| {
            if rest.contains(['?', '#']) {
                Err(bad(format!("has a query or fragment; {what} takes none.")))
            } else {
                Ok(())
            }
        };
        match scheme.as_str() {
            "process" => {
                no_query("process://")?;
                let state_dir = if rest.is_empty() {
                    DEFAULT_PROCESS_STATE_DIR
                } else {
                    rest
                };
                Ok(DriverUrl::Process {
                    state_dir: PathBuf::from(state_dir),
                })
            }
            "memory" => {
                if !matches!(rest, "" | "/") {
                    return Err(bad("names a host or path; write just 'memory://'.".into()));
                }
                Ok(DriverUrl::Memory)
            }
            "docker" => Ok(DriverUrl::Docker { url: url.to_string() }),
            "kubernetes" => Ok(DriverUrl::Kubernetes { url: url.to_string() }),
            "plugin" => {
                no_query("plugin://")?;
                if !rest.starts_with('/') || rest.len() < 2 {
                    return Err(bad(
                        "does not name the plugin library by an absolute path; write \
                         'plugin:///path/to/libdriver.so' (three slashes)."
                            .into(),
                    ));
                }
                Ok(DriverUrl::Plugin {
                    path: PathBuf::from(rest),
                })
            }
            other => Err(bad(format!(
                "has the unknown scheme '{other}'; use one of {}.",
                listed()
            ))),
        }
    }

    /// The scheme, as in [`SCHEMES`].
    pub fn scheme(&self) -> &'static str {
        match self {
            DriverUrl::Process { .. } => "process",
            DriverUrl::Memory => "memory",
            DriverUrl::Docker { .. } => "docker",
            DriverUrl::Kubernetes { .. } => "kubernetes",
            DriverUrl::Plugin { .. } => "plugin",
        }
    }
}

/// What a URL cannot say: the directories plugins may be loaded from (none by default, so `plugin://` URLs
/// need [`connect_with`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Directories a `plugin://` library must be in.
    pub plugin_dirs: Vec<PathBuf>,
}

/// Opens the driver `url` names (see the module documentation) with default [`ConnectOptions`]. Fails with
/// `Invalid` for a bad URL, `Unsupported` when the driver is not built in, and with what the driver's own
/// constructor fails with otherwise (e.g. `Unavailable` when the Docker engine does not answer).
pub async fn connect(url: &str) -> Result<Arc<dyn ContainerDriver>> {
    connect_with(url, &ConnectOptions::default()).await
}

/// [`connect`] with `options`.
pub async fn connect_with(url: &str, options: &ConnectOptions) -> Result<Arc<dyn ContainerDriver>> {
    match DriverUrl::parse(url)? {
        DriverUrl::Memory => Ok(Arc::new(MemoryDriver::new())),
        DriverUrl::Process { state_dir } => connect_process(state_dir).await,
        DriverUrl::Docker { url } => connect_docker(&url).await,
        DriverUrl::Kubernetes { url } => connect_kubernetes(&url).await,
        DriverUrl::Plugin { path } => connect_plugin(path, &options.plugin_dirs).await,
    }
}

#[cfg(feature = "process")]
async fn connect_process(state_dir: PathBuf) -> Result<Arc<dyn ContainerDriver>> {
    use crate::process::{ProcessConfig, ProcessDriver};
    Ok(Arc::new(
        ProcessDriver::new(ProcessConfig::in_dir(state_dir)).await?,
    ))
}

#[cfg(not(feature = "process"))]
async fn connect_process(_: PathBuf) -> Result<Arc<dyn ContainerDriver>> {
    Err(left_out("process", "process"))
}

#[cfg(feature = "docker")]
async fn connect_docker(url: &str) -> Result<Arc<dyn ContainerDriver>> {
    Ok(Arc::new(crate::docker::DockerDriver::connect(url)?))
}

#[cfg(not(feature = "docker"))]
async fn connect_docker(_: &str) -> Result<Arc<dyn ContainerDriver>> {
    Err(left_out("docker", "docker"))
}

#[cfg(feature = "kubernetes")]
async fn connect_kubernetes(url: &str) -> Result<Arc<dyn ContainerDriver>> {
    Ok(Arc::new(crate::kubernetes::KubernetesDriver::connect(url).await?))
}

#[cfg(not(feature = "kubernetes"))]
async fn connect_kubernetes(_: &str) -> Result<Arc<dyn ContainerDriver>> {
    Err(left_out("kubernetes", "kubernetes"))
}

#[cfg(feature = "plugin")]
async fn connect_plugin(path: PathBuf, allowed_dirs: &[PathBuf]) -> Result<Arc<dyn ContainerDriver>> {
    Ok(Arc::new(crate::plugin::PluginDriver::load(&path, allowed_dirs)?))
}

#[cfg(not(feature = "plugin"))]
async fn connect_plugin(_: PathBuf, _: &[PathBuf]) -> Result<Arc<dyn ContainerDriver>> {
    Err(left_out("plugin", "plugin"))
}

/// The error for a scheme whose driver feature is off.
#[cfg_attr(
    all(
        feature = "process",
        feature = "docker",
        feature = "kubernetes",
        feature = "plugin"
    ),
    allow(dead_code)
)]
fn left_out(scheme: &str, feature: &str) -> Error {
    Error::unsupported(format!(
        "{scheme}:// needs the {feature} driver, which this build of vamp-drivers leaves out; build it with \
         the cargo feature '{feature}'."
    ))
}

fn listed() -> String {
    SCHEMES
        .iter()
        .map(|s| format!("{s}://"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::ErrorKind;

    fn parsed(url: &str) -> DriverUrl {
        match DriverUrl::parse(url) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{url}: {e}"),
        }
    }

    fn refused(url: &str) -> String {
        let e = DriverUrl::parse(url).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{url}");
        e.message().to_string()
    }

    #[test]
    fn process_urls_name_the_state_dir_or_take_the_default() {
        assert_eq!(
            parsed("process://"),
            DriverUrl::Process {
                state_dir: PathBuf::from("./vamp-data/processes")
            }
        );
        assert_eq!(
            parsed("process:///var/lib/vamp"),
            DriverUrl::Process {
                state_dir: PathBuf::from("/var/lib/vamp")
            }
        );
        assert_eq!(
            parsed("PROCESS://data/p"),
            DriverUrl::Process {
                state_dir: PathBuf::from("data/p")
            }
        );
        assert!(refused("process://x?y=1").contains("query"));
    }

    #[test]
    fn memory_takes_nothing_after_the_scheme() {
        assert_eq!(parsed("memory://"), DriverUrl::Memory);
        assert!(refused("memory://host").contains("memory://"));
    }

    #[test]
    fn docker_and_kubernetes_urls_are_passed_on_whole() {
        assert_eq!(
            parsed("docker:///var/run/docker.sock"),
            DriverUrl::Docker {
                url: "docker:///var/run/docker.sock".into()
            }
        );
        assert_eq!(
            parsed("kubernetes://https://10.0.0.1:6443"),
            DriverUrl::Kubernetes {
                url: "kubernetes://https://10.0.0.1:6443".into()
            }
        );
    }

    #[test]
    fn plugins_are_named_by_an_absolute_path() {
        assert_eq!(
            parsed("plugin:///opt/vamp/libmy_driver.so"),
            DriverUrl::Plugin {
                path: PathBuf::from("/opt/vamp/libmy_driver.so")
            }
        );
        assert!(refused("plugin://libmy_driver.so").contains("absolute"));
    }

    #[test]
    fn an_unknown_scheme_lists_the_known_ones() {
        let message = refused("marathon://host:8080");
        for scheme in SCHEMES {
            assert!(message.contains(&format!("{scheme}://")), "{message}");
        }
        assert!(refused("no-scheme").contains("process://"));
    }

    #[test]
    fn every_scheme_parses_back_to_itself() {
        for url in [
            "process://",
            "memory://",
            "docker://",
            "kubernetes://",
            "plugin:///x.so",
        ] {
            assert!(url.starts_with(parsed(url).scheme()), "{url}");
        }
    }

    #[tokio::test]
    async fn memory_connects_to_the_memory_driver() {
        let driver = connect("memory://").await.unwrap();
        assert_eq!(driver.info().await.unwrap().kind, "memory");
    }

    #[cfg(feature = "process")]
    #[tokio::test]
    async fn process_connects_to_a_process_driver_on_the_given_dir() {
        let dir = std::env::temp_dir().join(format!("vamp-url-process-{}", std::process::id()));
        let driver = connect(&format!("process://{}", dir.display())).await.unwrap();
        assert_eq!(driver.info().await.unwrap().kind, "process");
        assert!(dir.is_dir(), "the state dir was not created");
        drop(driver);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn plugins_load_only_from_configured_directories() {
        let Err(e) = connect("plugin:///tmp/libnothing.so").await else {
            panic!("a plugin loaded with no directory allowed")
        };
        assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    }

    #[tokio::test]
    async fn docker_without_a_daemon_is_unavailable_on_first_use() {
        let driver = connect("docker:///nonexistent/vamp-test.sock").await.unwrap();
        let e = driver.info().await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
    }
}
