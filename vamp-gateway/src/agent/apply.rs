//! Applying a configuration envelope to the local HAProxy (contract §3): nothing when HAProxy would not see a
//! difference, the runtime API when only servers and maps change, a hitless master-worker reload otherwise —
//! and the running configuration kept whenever the new one is refused.
//!
//! The [`Applier`] owns the HAProxy process and the last applied envelope. Files are always written (maps
//! first, then the configuration; each to a temporary file renamed into place), so a reload or a restart
//! starts from the state HAProxy is in: before a reload, and while the runtime API takes a runtime change
//! (it does not read the files), in both cases before the apply returns. A reload HAProxy refuses restores the
//! previous files; a runtime command HAProxy refuses turns the change into a reload.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vamp_core::{Error, Result};

use crate::agent::config_diff::{plan_indexed, MapUpdate, Plan, RuntimePlan, SectionIndex, ServerChange};
use crate::agent::process::{Haproxy, ProcessOptions};
use crate::agent::runtime_api::{deletion_outcome, prepared_version, Command, Deletion, RuntimeApi};
use crate::haproxy::envelope::Envelope;

/// How long one runtime API batch may take.
const RUNTIME_TIMEOUT: Duration = Duration::from_secs(10);

/// Which way a configuration was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// HAProxy would not see a difference; nothing was done (files were rewritten if they differed).
    Unchanged,
    /// The runtime API made the change without a reload.
    Runtime {
        /// How many runtime API commands were sent.
        commands: usize,
    },
    /// HAProxy was reloaded (master-worker, listening sockets handed over).
    Reloaded {
        /// Why a reload was needed.
        reason: String,
    },
    /// HAProxy was started with this configuration (the first one, or after the master died).
    Started,
}

impl Applied {
    /// `unchanged`, `runtime`, `reloaded` or `started`.
    pub fn kind(&self) -> &'static str {
        match self {
            Applied::Unchanged => "unchanged",
            Applied::Runtime { .. } => "runtime",
            Applied::Reloaded { .. } => "reloaded",
            Applied::Started => "started",
        }
    }
}

/// Applies envelopes to one HAProxy, which it starts on the first one and owns.
#[derive(Debug)]
pub struct Applier {
    options: ProcessOptions,
    haproxy: Option<Haproxy>,
    running: Option<Envelope>,
    /// Where the sections of `running`'s configuration lie, found once.
    running_index: SectionIndex,
    /// Whether a file write failed since the files last matched `running`: then every file is written again,
    /// whether or not it differs from `running`.
    files_dirty: bool,
    /// Servers put in maintenance whose deletion HAProxy refused while they had connections.
    pending_deletions: Vec<(String, String)>,
    /// Told about every applied envelope.
    observer: Option<Observer>,
}

/// A callback told about applied envelopes.
#[derive(Clone)]
struct Observer(Arc<dyn Fn(&Envelope) + Send + Sync>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

impl Applier {
    /// An applier for HAProxy as `options` say; nothing runs until the first [`Applier::apply`]. A relative
    /// work directory is made absolute (map paths must match the ones HAProxy loaded).
    pub fn new(mut options: ProcessOptions) -> Result<Applier> {
        options.dir = std::path::absolute(&options.dir).map_err(|e| {
            Error::invalid(format!(
                "The work directory '{}' cannot be made absolute: {e}.",
                options.dir.display()
            ))
        })?;
        Ok(Applier {
            options,
            haproxy: None,
            running: None,
            running_index: SectionIndex::default(),
            files_dirty: false,
            pending_deletions: Vec::new(),
            observer: None,
        })
    }

    /// The options HAProxy runs with.
    pub fn options(&self) -> &ProcessOptions {
        &self.options
    }

    /// The running HAProxy, once started.
    pub fn haproxy(&self) -> Option<&Haproxy> {
        self.haproxy.as_ref()
    }

    /// The envelope HAProxy runs, once one was applied.
    pub fn running(&self) -> Option<&Envelope> {
        self.running.as_ref()
    }

    /// Whether HAProxy's master is running.
    pub fn is_running(&mut self) -> bool {
        self.haproxy.as_mut().is_some_and(Haproxy::is_running)
    }

    /// A runtime API client for HAProxy's admin socket.
    pub fn runtime_api(&self) -> RuntimeApi {
        RuntimeApi::new(self.options.runtime_socket(), RUNTIME_TIMEOUT)
    }

    /// Parses a published text and applies it ([`Applier::apply`]). A text that does not parse is refused with
    /// `Invalid` and the running configuration kept.
    pub async fn apply_text(&mut self, text: &str) -> Result<Applied> {
        let envelope = Envelope::parse(text)?;
        self.apply(envelope).await
    }

    /// Applies `envelope`. On `Err` the running configuration keeps serving and its files are in place:
    /// `Invalid` when HAProxy refused the configuration, `Unavailable`/`Backend` when HAProxy could not be
    /// reached or did not confirm.
    pub async fn apply(&mut self, envelope: Envelope) -> Result<Applied> {
        validate(&envelope)?;
        if !self.is_running() {
            return self.start(envelope).await;
        }
        let Some(running) = self.running.as_ref() else {
            return self.start(envelope).await;
        };
        let index = SectionIndex::of(&envelope.config);
        match plan_indexed(running, &self.running_index, &envelope, &index) {
            Plan::Unchanged => {
                if *running != envelope || self.files_dirty {
                    self.persist(&envelope).await?;
                    self.set_running(envelope, index);
                }
                Ok(Applied::Unchanged)
            }
            Plan::Runtime(runtime) => {
                let (written, executed) = tokio::join!(self.write_files(&envelope), self.execute(&runtime));
                self.files_dirty = written.is_err();
                match executed {
                    Ok((commands, busy)) => {
                        self.pending_deletions.extend(busy);
                        self.set_running(envelope, index);
                        written?;
                        Ok(Applied::Runtime { commands })
                    }
                    Err(e) => {
                        if let Err(write_error) = written {
                            self.revert_runtime_changes(&envelope).await;
                            return Err(write_error);
                        }
                        tracing::warn!(
                            error = %e,
                            "a runtime API command failed; applying the configuration by reload instead"
                        );
                        self.reload(
                            envelope,
                            index,
                            format!("a runtime API command failed: {e}"),
                            true,
                        )
                        .await
                    }
                }
            }
            Plan::Reload(reason) => {
                self.persist(&envelope).await?;
                self.reload(envelope, index, reason, false).await
            }
        }
    }

    /// Brings HAProxy back to the running configuration after runtime commands of a change whose files could
    /// not be written: the previous files again, and a reload.
    async fn revert_runtime_changes(&mut self, refused: &Envelope) {
        if let Some(previous) = self.running.clone() {
            self.files_dirty = !self.restore(&previous, refused).await;
        }
        if let Some(haproxy) = self.haproxy.as_ref() {
            if let Err(e) = haproxy.reload().await {
                tracing::error!(error = %e, "reloading the running configuration failed");
            }
        }
        self.pending_deletions.clear();
    }

    /// Keeps HAProxy in the applied state: restarts a master that died (with the files of the running
    /// configuration) and retries deleting servers that still had connections. Call it every second or so.
    pub async fn maintain(&mut self) -> Result<()> {
        if self.haproxy.is_some() && !self.is_running() {
            if let Some(running) = self.running.clone() {
                tracing::error!("HAProxy's master is gone; starting it again");
                self.start(running).await?;
            }
        }
        if self.pending_deletions.is_empty() || !self.is_running() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending_deletions);
        let commands: Vec<String> = pending
            .iter()
            .map(|(b, s)| Command::delete_server(b, s).text)
            .collect();
        let replies = self.runtime_api().send(&commands).await;
        match replies {
            Ok(replies) => {
                for ((backend, server), reply) in pending.into_iter().zip(replies) {
                    if deletion_outcome(&reply) == Deletion::Busy {
                        self.pending_deletions.push((backend, server));
                    }
                }
            }
            Err(e) => {
                self.pending_deletions = pending;
                return Err(e);
            }
        }
        Ok(())
    }

    fn set_running(&mut self, envelope: Envelope, index: SectionIndex) {
        if let Some(observer) = &self.observer {
            (observer.0)(&envelope);
        }
        let previous = self.running.replace(envelope);
        self.running_index = index;
        // Freeing a large envelope (10,000 routes: megabytes of text, tens of thousands of names) takes
        // milliseconds; a blocking thread does it off the apply path.
        if let (Some(previous), Ok(runtime)) = (previous, tokio::runtime::Handle::try_current()) {
            drop(runtime.spawn_blocking(move || drop(previous)));
        }
    }

    /// Calls `observer` with every envelope HAProxy runs from now on, right after it was applied (the log
    /// pipeline takes the gateway and route names from it).
    pub fn on_applied(&mut self, observer: impl Fn(&Envelope) + Send + Sync + 'static) {
        self.observer = Some(Observer(Arc::new(observer)));
    }

    /// Remembers `envelope` as running, indexing its configuration.
    fn set_running_envelope(&mut self, envelope: Envelope) {
        let index = SectionIndex::of(&envelope.config);
        self.set_running(envelope, index);
    }

    /// Servers left in maintenance, waiting for their connections to end before they are deleted.
    pub fn pending_deletions(&self) -> &[(String, String)] {
        &self.pending_deletions
    }

    /// Stops HAProxy (and its workers).
    pub async fn shutdown(&mut self) {
        if let Some(haproxy) = self.haproxy.take() {
            haproxy.stop().await;
        }
    }

    async fn start(&mut self, envelope: Envelope) -> Result<Applied> {
        if let Some(old) = self.haproxy.take() {
            old.stop().await;
        }
        self.persist(&envelope).await?;
        self.pending_deletions.clear();
        match Haproxy::start(self.options.clone()).await {
            Ok(haproxy) => {
                self.haproxy = Some(haproxy);
                self.set_running_envelope(envelope);
                Ok(Applied::Started)
            }
            Err(e) => {
                if let Some(previous) = self.running.clone() {
                    self.files_dirty = !self.restore(&previous, &envelope).await;
                    if let Ok(haproxy) = Haproxy::start(self.options.clone()).await {
                        self.haproxy = Some(haproxy);
                    }
                }
                Err(e)
            }
        }
    }

    /// Reloads with the files of `envelope` (already written). When HAProxy refuses, the previous files come
    /// back; when runtime commands already changed the running workers, a second reload on the previous files
    /// brings them back to the previous configuration.
    async fn reload(
        &mut self,
        envelope: Envelope,
        index: SectionIndex,
        reason: String,
        runtime_touched: bool,
    ) -> Result<Applied> {
        let Some(haproxy) = self.haproxy.as_ref() else {
            return self.start(envelope).await;
        };
        match haproxy.reload().await {
            Ok(()) => {
                tracing::info!(%reason, "HAProxy reloaded");
                self.pending_deletions.clear();
                self.set_running(envelope, index);
                Ok(Applied::Reloaded { reason })
            }
            Err(e) => {
                let mut restored = true;
                if let Some(previous) = self.running.clone() {
                    restored = self.restore(&previous, &envelope).await;
                    if runtime_touched {
                        if let Err(again) = haproxy.reload().await {
                            tracing::error!(error = %again, "reloading the previous configuration failed too");
                        }
                        self.pending_deletions.clear();
                    }
                }
                self.files_dirty = !restored;
                Err(e)
            }
        }
    }

    /// Runs a runtime plan; returns how many commands were sent and the removed servers HAProxy keeps in
    /// maintenance until their connections end. Servers are added and changed first, then maps are swapped (so
    /// new routes have servers before traffic is sent to them), then removed servers are put in maintenance and
    /// deleted (after the maps no longer send traffic to them).
    async fn execute(&self, plan: &RuntimePlan) -> Result<(usize, Vec<(String, String)>)> {
        let api = self.runtime_api();
        let maps_dir = self.options.maps_dir();
        let mut first = Vec::new();
        let mut removals = Vec::new();
        for change in &plan.servers {
            match change {
                ServerChange::SetWeight {
                    backend,
                    server,
                    weight,
                } => first.push(Command::set_weight(backend, server, weight)),
                ServerChange::SetAddress {
                    backend,
                    server,
                    ip,
                    port,
                } => first.push(Command::set_address(backend, server, ip, *port)),
                ServerChange::SetState {
                    backend,
                    server,
                    ready,
                } => first.push(Command::set_state(backend, server, *ready)),
                ServerChange::Add {
                    backend,
                    server,
                    spec,
                    check,
                    enable,
                } => {
                    first.push(Command::add_server(backend, server, spec));
                    if *check {
                        first.push(Command::enable_health(backend, server));
                    }
                    if *enable {
                        first.push(Command::enable_server(backend, server));
                    }
                }
                ServerChange::Remove { backend, server } => {
                    removals.push((backend.clone(), server.clone()));
                }
            }
        }
        let map_paths: Vec<PathBuf> = plan.maps.iter().map(|m| maps_dir.join(&m.file)).collect();
        first.extend(map_paths.iter().map(|p| Command::prepare_map(p)));
        let mut sent = first.len();
        let mut busy = Vec::new();
        let replies = api.run(&first).await?;
        let versions = replies
            .iter()
            .skip(replies.len() - map_paths.len())
            .map(|r| prepared_version(r))
            .collect::<Result<Vec<u64>>>()?;
        let second = map_commands(&plan.maps, &map_paths, &versions);
        sent += second.len();
        api.run(&second).await?;
        if !removals.is_empty() {
            let mut third = Vec::new();
            for (backend, server) in &removals {
                third.push(Command::set_state(backend, server, false));
                third.push(Command::delete_server(backend, server));
            }
            sent += third.len();
            let replies = api.run(&third).await?;
            for ((backend, server), reply) in removals.into_iter().zip(replies.iter().skip(1).step_by(2)) {
                match deletion_outcome(reply) {
                    Deletion::Deleted => {}
                    Deletion::Busy => {
                        tracing::info!(%backend, %server, "server in maintenance until its connections end");
                        busy.push((backend, server));
                    }
                    Deletion::Refused => {
                        return Err(Error::backend(format!(
                            "HAProxy refused to delete {backend}/{server}: {reply}"
                        )))
                    }
                }
            }
        }
        Ok((sent, busy))
    }

    /// [`Applier::write_files`], remembering whether the files may no longer match the running configuration.
    async fn persist(&mut self, envelope: &Envelope) -> Result<()> {
        let written = self.write_files(envelope).await;
        self.files_dirty = written.is_err();
        written
    }

    /// Writes the maps of `envelope`, then its configuration, each atomically; files equal to the running
    /// configuration's are skipped unless a write failed since.
    async fn write_files(&self, envelope: &Envelope) -> Result<()> {
        let maps_dir = self.options.maps_dir();
        tokio::fs::create_dir_all(&maps_dir)
            .await
            .map_err(|e| io_error(&maps_dir, e))?;
        let running = self.running.as_ref().filter(|_| !self.files_dirty);
        for (name, content) in &envelope.maps {
            let unchanged = running
                .and_then(|r| r.maps.get(name))
                .is_some_and(|c| c == content);
            if !unchanged {
                write_atomically(&maps_dir.join(name), content).await?;
            }
        }
        let config_unchanged = running.is_some_and(|r| r.config == envelope.config);
        if !config_unchanged {
            write_atomically(&self.options.config_path(), &envelope.config).await?;
        }
        Ok(())
    }

    /// Puts the files of `previous` back after `refused` was written, and removes maps only `refused` had;
    /// `false` when a file could not be written back.
    async fn restore(&self, previous: &Envelope, refused: &Envelope) -> bool {
        let mut restored = true;
        let maps_dir = self.options.maps_dir();
        let kept: BTreeSet<&String> = previous.maps.keys().collect();
        for name in refused.maps.keys().filter(|n| !kept.contains(n)) {
            let _ = tokio::fs::remove_file(maps_dir.join(name)).await;
        }
        for (name, content) in &previous.maps {
            if let Err(e) = write_atomically(&maps_dir.join(name), content).await {
                tracing::error!(error = %e, "cannot restore a map file");
                restored = false;
            }
        }
        if let Err(e) = write_atomically(&self.options.config_path(), &previous.config).await {
            tracing::error!(error = %e, "cannot restore the HAProxy configuration");
            restored = false;
        }
        restored
    }
}

fn map_commands(maps: &[MapUpdate], paths: &[PathBuf], versions: &[u64]) -> Vec<Command> {
    let mut commands = Vec::new();
    for ((map, path), version) in maps.iter().zip(paths).zip(versions) {
        commands.extend(
            map.entries
                .iter()
                .map(|(k, v)| Command::add_map_entry(*version, path, k, v)),
        );
        commands.push(Command::commit_map(*version, path));
    }
    commands
}

/// What the agent checks before HAProxy sees a configuration: it has at least one section and no NUL byte.
/// Everything else is HAProxy's to judge (its reload refuses a bad configuration and keeps the old workers).
fn validate(envelope: &Envelope) -> Result<()> {
    if envelope.config.contains('\0') {
        return Err(Error::invalid(
            "The gateway configuration contains a NUL byte; HAProxy would read it differently.",
        ));
    }
    if envelope.config.trim().is_empty() {
        return Err(Error::invalid(
            "The gateway configuration is empty; the running configuration is kept.",
        ));
    }
    Ok(())
}

/// Writes `content` to `<path>.tmp` and renames it to `path`, so a reader sees the old or the new file whole.
pub async fn write_atomically(path: &Path, content: &str) -> Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    tokio::fs::write(&temp, content)
        .await
        .map_err(|e| io_error(&temp, e))?;
    tokio::fs::rename(&temp, path)
        .await
        .map_err(|e| io_error(path, e))
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::backend(format!("Cannot write {}: {e}.", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_configurations_are_refused() {
        assert!(validate(&Envelope::default()).is_err());
        assert!(validate(&Envelope {
            config: "global\n".into(),
            ..Envelope::default()
        })
        .is_ok());
    }

    #[test]
    fn map_commands_add_every_entry_then_commit() {
        let maps = vec![MapUpdate {
            file: "a.weights".into(),
            entries: vec![("0:99".into(), "g_a_r0".into())],
        }];
        let commands = map_commands(&maps, &[PathBuf::from("/m/a.weights")], &[3]);
        let texts: Vec<&str> = commands.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "add map @3 /m/a.weights 0:99 g_a_r0",
                "commit map @3 /m/a.weights"
            ]
        );
    }
}
