//! The real REST API (`vamp_server::api::router`) over a `Vamp` with memory backends and running loops, for the
//! CLI's tests, counting the reads of each deployment (what `--wait` polls). It runs on a thread of its own, so
//! tests run the real `vamp` binary against it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use tokio::sync::oneshot;
use vamp_core::memory::MemoryDriver;
use vamp_server::api::ApiOptions;
use vamp_server::{ServerSettings, Vamp};

/// A running API; stopped on drop.
pub struct TestApi {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The facade behind it.
    pub vamp: Vamp,
    /// The driver, to make deployments fail.
    pub driver: Arc<MemoryDriver>,
    /// GETs of each deployment served so far.
    gets: Arc<std::sync::Mutex<BTreeMap<String, usize>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How the test API behaves.
#[derive(Default, Clone)]
pub struct TestApiOptions {
    /// Tokens accepted; empty = open.
    pub tokens: Vec<String>,
    /// Services never start (deployments stay `Updating` until the deploy timeout).
    pub never_starts: bool,
    /// The deploy timeout in seconds (default 1).
    pub deploy_timeout_s: Option<u64>,
}

impl TestApi {
    /// An open API with a working driver.
    pub fn start() -> TestApi {
        Self::start_with(TestApiOptions::default())
    }

    /// An API with `options`.
    pub fn start_with(options: TestApiOptions) -> TestApi {
        let driver = Arc::new(MemoryDriver::new());
        if options.never_starts {
            driver.set_auto_start(false);
        }
        let mut settings = ServerSettings::default();
        settings.synchronization.period_ms = 200;
        settings.synchronization.busy_period_ms = 20;
        settings.synchronization.deploy_timeout_s = options.deploy_timeout_s.unwrap_or(1);
        settings.synchronization.undeploy_timeout_s = 1;
        let vamp = Vamp::builder()
            .driver(driver.clone())
            .config(settings)
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let v = vamp.clone();
        let tokens = Arc::new(options.tokens);
        let gets: Arc<std::sync::Mutex<BTreeMap<String, usize>>> = Arc::default();
        let counted = gets.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let (loops_stop, loops_stopped) = tokio::sync::watch::channel(false);
                let lv = v.clone();
                let loops = tokio::spawn(async move {
                    let mut rx = loops_stopped;
                    let _ = lv
                        .run(async move {
                            let _ = rx.wait_for(|s| *s).await;
                        })
                        .await;
                });
                let mut api = ApiOptions::insecure_open();
                api.security.admin_tokens = tokens.to_vec();
                let app = vamp_server::api::router(v.clone(), api).layer(axum::middleware::from_fn(
                    move |request: Request, next: Next| {
                        if request.method() == Method::GET {
                            if let Some(name) = request.uri().path().strip_prefix("/api/v1/deployments/") {
                                *counted.lock().unwrap().entry(decode(name)).or_default() += 1;
                            }
                        }
                        next.run(request)
                    },
                ));
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
                let _ = loops_stop.send(true);
                let _ = loops.await;
            });
        });
        TestApi {
            url,
            vamp,
            driver,
            gets,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// How many times deployment `name` was read.
    pub fn polls(&self, name: &str) -> usize {
        self.gets.lock().unwrap().get(name).copied().unwrap_or(0)
    }

    /// Runs `vamp ARGS… --url <api>` with `stdin`, returning its output.
    pub fn vamp(&self, args: &[&str]) -> Output {
        self.vamp_with(args, None, &[])
    }

    /// [`TestApi::vamp`] with standard input and extra environment.
    pub fn vamp_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        run_vamp(args, stdin, &[&[("VAMP_URL", self.url.as_str())], env].concat())
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the `vamp` binary with `args`, `stdin` and `env` (and no inherited `VAMP_*`).
pub fn run_vamp(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vamp"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("VAMP_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.stdin(std::process::Stdio::piped());
    cmd.stdout(std::process::Stdio::piped());
    cmd.stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory named after `label`.
    pub fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "vamp-cli-{label}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A path inside.
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
