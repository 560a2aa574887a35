//! The ZooKeeper backend of [`KeyValueStore`]: one znode per key, real data watches, session renewal.
//!
//! Layout: the key `/vamp/default/gateways/haproxy/2.6/configuration` is the znode of the same path (below an
//! optional chroot), as the original Vamp wrote it. Parents are created as needed with empty data.
//!
//! Values and "no value": a value of one byte or more is the znode's data, stored as is, so other readers of the
//! original layout (confd, the original gateway agent) read the same bytes. A znode with empty data holds no value
//! unless it has the child [`EMPTY_VALUE_MARKER`], which marks the empty value. The marker's name contains a space,
//! which no [`Key`] segment may, so it never collides with a key and [`KeyValueStore::children`] never lists it.
//! Marking the rare empty value (rather than the common value-less parent) means parent znodes written by anyone
//! else read as "no value", as they should.
//!
//! Versions are the znode's `mzxid`: the zxid of the transaction that last wrote its data. Zxids are ZooKeeper's
//! store-wide transaction counter, so versions increase strictly with every write, also across a delete that
//! removed the znode and a later set that created it again (its `dataVersion` would start from 0 again).
//!
//! `delete` removes the value; the znode itself goes when it has no children left, and so do value-less
//! ancestors that were kept only for it, so the tree does not fill with empty parents.
//!
//! Watches are ZooKeeper data watches (`getData`/`exists` with the watch flag), re-armed by the read that follows
//! every event, so the read after the last event returns the latest value: values may be coalesced, never lost.
//! The client re-registers watches after a reconnect within one session, and the server fires those whose znode
//! changed meanwhile. When the session expires (the server was gone longer than the session timeout) the store
//! opens a new session and the watch reads and delivers the current value again.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use vamp_core::kv::{Key, KeyValueStore, Versioned};
use vamp_core::{Error, Result};
use zookeeper_client as zk;

use crate::access::Access;
use crate::large::check_one_write;
use crate::reconnect::{close_signal, CloseOnDrop, Closed, Reconnect, Reporting};

/// The largest value one `set` accepts: ZooKeeper refuses requests above its `jute.maxbuffer` (1 MiB - 1 by
/// default) and a request carries the path and framing besides the data, so 64 KiB are left for those. Larger
/// values go through [`crate::large::LargeValues`], which splits them into writes of at most this size.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024 - 64 * 1024;

const _: () = assert!(
    MAX_VALUE_BYTES + 60 * 1024 < 0xfffff,
    "room for the path and framing"
);

/// The name of the child znode that marks an empty value (see the module documentation).
pub const EMPTY_VALUE_MARKER: &str = "vamp empty value";

/// The session timeout asked of the server, as the original Vamp configured it (5 s).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one operation (all its round trips) may take before it fails with `Unavailable`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an operation waits for a disconnected session to reconnect before failing with `Unavailable`.
/// Short, so callers learn quickly that the server is gone; requests are never queued for a later connection.
pub const RECONNECT_WAIT: Duration = Duration::from_secs(2);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ATTEMPTS: usize = 16;

/// A [`KeyValueStore`] on a ZooKeeper ensemble.
///
/// Dropping the store ends its watch streams; the session closes when the last stream has ended.
pub struct ZooKeeperStore {
    shared: Arc<Shared>,
    closed: Closed,
    _close: CloseOnDrop,
}

impl std::fmt::Debug for ZooKeeperStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZooKeeperStore")
            .field("hosts", &self.shared.hosts)
            .field("chroot", &self.shared.chroot)
            .finish()
    }
}

struct Shared {
    /// Digest credentials (`user:password`) every session authenticates with; with them, new znodes are
    /// readable and writable by their creator only.
    auth: Option<Vec<u8>>,
    hosts: String,
    chroot: Option<String>,
    client: Mutex<zk::Client>,
    renewing: tokio::sync::Mutex<()>,
}

impl ZooKeeperStore {
    /// [`MAX_VALUE_BYTES`], the per-write limit to give [`crate::large::LargeValues`] when wrapping this store.
    pub const MAX_VALUE_BYTES: usize = MAX_VALUE_BYTES;

    /// Connects to the ensemble `hosts` (each `host` or `host:port`, port 2181 when absent; several for a
    /// cluster: the client picks one and fails over to the others), with every key below `chroot` when given.
    ///
    /// `chroot` is a key path such as `/apps`; its znode is created when missing. Fails with `Invalid` for an empty
    /// host list, a malformed host or chroot, and with `Unavailable` when no host answers within 10 s.
    pub async fn connect(hosts: &[String], chroot: Option<&str>) -> Result<Self> {
        Self::connect_with(hosts, chroot, &Access::default()).await
    }

    /// [`ZooKeeperStore::connect`] with digest authentication when `access` has a user and password: every
    /// session adds `digest user:password`, and the znodes it creates carry the ACL `auth` (all permissions for
    /// that user only). Wrong credentials show when a protected znode is read or written: `Backend` ("not
    /// authenticated") naming the key. Fails with `Invalid` when the password file cannot be read.
    pub async fn connect_with(hosts: &[String], chroot: Option<&str>, access: &Access) -> Result<Self> {
        let auth = access
            .login()?
            .map(|(user, password)| format!("{user}:{}", password.expose()).into_bytes());
        let hosts = connect_string(hosts)?;
        let chroot = match chroot {
            None => None,
            Some(path) => Some(
                Key::parse(path)
                    .map_err(|e| {
                        Error::invalid(format!(
                            "ZooKeeper: the chroot '{path}' is not a valid path: {}",
                            e.message()
                        ))
                    })?
                    .to_string(),
            ),
        };
        let client = open_session(&hosts, chroot.as_deref(), auth.as_deref()).await?;
        let (close, closed) = close_signal();
        Ok(ZooKeeperStore {
            shared: Arc::new(Shared {
                auth,
                hosts,
                chroot,
                client: Mutex::new(client),
                renewing: tokio::sync::Mutex::new(()),
            }),
            closed,
            _close: close,
        })
    }

    async fn run<T, F>(&self, what: &str, key: &Key, operation: F) -> Result<T>
    where
        F: AsyncFnOnce(&zk::Client) -> std::result::Result<T, zk::Error>,
    {
        run(&self.shared, what, key, operation).await
    }
}

async fn run<T, F>(shared: &Shared, what: &str, key: &Key, operation: F) -> Result<T>
where
    F: AsyncFnOnce(&zk::Client) -> std::result::Result<T, zk::Error>,
{
    let attempt = async {
        let client = shared.session(key).await?;
        operation(&client)
            .await
            .map_err(|e| failure(&shared.hosts, what, key, e))
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(Error::unavailable(format!(
            "ZooKeeper at {}: {what} of '{key}' did not finish within {REQUEST_TIMEOUT:?}; retry later.",
            shared.hosts
        ))),
    }
}

impl Shared {
    fn current(&self) -> zk::Client {
        lock(&self.client).clone()
    }

    /// A connected client: the current one, once it is (re)connected, or a new session when the current one
    /// expired or closed.
    async fn session(&self, key: &Key) -> Result<zk::Client> {
        let client = self.current();
        match client.state() {
            zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => Ok(client),
            zk::SessionState::Disconnected => {
                let mut states = client.state_watcher();
                let reconnected = tokio::time::timeout(RECONNECT_WAIT, async {
                    loop {
                        match states.changed().await {
                            zk::SessionState::Disconnected => continue,
                            state => return state,
                        }
                    }
                })
                .await;
                match reconnected {
                    Ok(zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly) => {
                        Ok(client)
                    }
                    Ok(_) => self.renew(client).await,
                    Err(_) => Err(Error::unavailable(format!(
                        "ZooKeeper at {}: disconnected, not reconnected within {RECONNECT_WAIT:?} (key '{key}'); \
                         retry later.",
                        self.hosts
                    ))),
                }
            }
            _ => self.renew(client).await,
        }
    }

    /// Replaces the terminated session `stale` with a new one, unless another caller already did.
    async fn renew(&self, stale: zk::Client) -> Result<zk::Client> {
        let _renewing = self.renewing.lock().await;
        let current = self.current();
        if current.session_id() != stale.session_id() {
            return Ok(current);
        }
        let fresh = open_session(&self.hosts, self.chroot.as_deref(), self.auth.as_deref()).await?;
        *lock(&self.client) = fresh.clone();
        Ok(fresh)
    }
}

fn lock(client: &Mutex<zk::Client>) -> MutexGuard<'_, zk::Client> {
    client.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `host1:port,host2:port`, checked so that a host can neither add a chroot nor an empty entry.
fn connect_string(hosts: &[String]) -> Result<String> {
    if hosts.is_empty() {
        return Err(Error::invalid(
            "ZooKeeper: no host given; name at least one, as in 'zk://127.0.0.1:2181'.",
        ));
    }
    for host in hosts {
        if host.is_empty()
            || host
                .chars()
                .any(|c| c == ',' || c == '/' || c.is_whitespace() || c.is_control())
        {
            return Err(Error::invalid(format!(
                "ZooKeeper: the host '{}' is malformed; write 'host' or 'host:port', one per entry.",
                host.escape_debug()
            )));
        }
    }
    Ok(hosts.join(","))
}

async fn open_session(hosts: &str, chroot: Option<&str>, auth: Option<&[u8]>) -> Result<zk::Client> {
    let unreachable = |why: String| {
        Error::unavailable(format!(
            "ZooKeeper at {hosts} is not reachable: {why}; retry when it runs."
        ))
    };
    let mut connector = zk::Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_fail_eagerly();
    if let Some(auth) = auth {
        connector = connector.with_auth("digest", auth);
    }
    let connecting = connector.connect(hosts);
    let secured = auth.is_some();
    let client = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(client)) => client,
        Ok(Err(zk::Error::BadArguments(why))) => {
            return Err(Error::invalid(format!(
                "ZooKeeper: the hosts '{hosts}' are malformed: {why}."
            )))
        }
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Err(_) => return Err(unreachable(format!("no session within {CONNECT_TIMEOUT:?}"))),
    };
    let Some(root) = chroot else {
        return Ok(client);
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, client.mkdir(root, &persistent(secured))).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(Error::backend(format!(
                "ZooKeeper at {hosts}: cannot create the chroot '{root}': {e}."
            )))
        }
        Err(_) => return Err(unreachable(format!("creating the chroot '{root}' timed out"))),
    }
    client
        .chroot(root)
        .map_err(|_| Error::invalid(format!("ZooKeeper: the chroot '{root}' is not a valid path.")))
}

fn persistent(secured: bool) -> zk::CreateOptions<'static> {
    let acls = if secured {
        zk::Acls::creator_all()
    } else {
        zk::Acls::anyone_all()
    };
    zk::CreateMode::Persistent.with_acls(acls)
}

/// Maps a client error into the vamp error kinds: lost connections and sessions are retryable `Unavailable`.
fn failure(hosts: &str, what: &str, key: &Key, error: zk::Error) -> Error {
    let message = format!("ZooKeeper at {hosts}: {what} of '{key}' failed: {error}");
    match error {
        zk::Error::ConnectionLoss
        | zk::Error::SessionExpired
        | zk::Error::SessionMoved
        | zk::Error::Timeout
        | zk::Error::NoHosts
        | zk::Error::ClientClosed
        | zk::Error::Throttled
        | zk::Error::NotReadOnly => Error::unavailable(format!("{message}; retry later.")),
        zk::Error::BadArguments(_) => Error::invalid(format!("{message}.")),
        zk::Error::NoAuth | zk::Error::AuthFailed | zk::Error::InvalidAcl => Error::backend(format!(
            "{message}; the session lacks the permission (check the znode's ACL)."
        )),
        _ => Error::backend(format!("{message}.")),
    }
    .with_source(error)
}

fn marker_of(path: &str) -> String {
    format!("{path}/{EMPTY_VALUE_MARKER}")
}

fn version_of(stat: &zk::Stat) -> u64 {
    u64::try_from(stat.mzxid).unwrap_or(0)
}

fn is_child_name(name: &str) -> bool {
    name != EMPTY_VALUE_MARKER && Key::parse("/k").and_then(|k| k.join(name)).is_ok()
}

/// The value a znode holds, given its data and stat: its data, the empty value when marked, else none.
async fn value_of(
    client: &zk::Client,
    path: &str,
    data: Vec<u8>,
    stat: &zk::Stat,
) -> std::result::Result<Option<Vec<u8>>, zk::Error> {
    if !data.is_empty() {
        return Ok(Some(data));
    }
    if stat.num_children == 0 {
        return Ok(None);
    }
    Ok(client.check_stat(&marker_of(path)).await?.map(|_| Vec::new()))
}

async fn read(client: &zk::Client, path: &str) -> std::result::Result<Option<Versioned>, zk::Error> {
    let (data, stat) = match client.get_data(path).await {
        Ok(found) => found,
        Err(zk::Error::NoNode) => return Ok(None),
        Err(e) => return Err(e),
    };
    let version = version_of(&stat);
    Ok(value_of(client, path, data, &stat).await?.map(|value| Versioned {
        value: Some(value),
        version,
    }))
}

/// Writes `value` to the existing znode `path`; `NoNode` when it does not exist.
async fn overwrite(
    client: &zk::Client,
    path: &str,
    value: &[u8],
    secured: bool,
) -> std::result::Result<u64, zk::Error> {
    if !value.is_empty() {
        let stat = client.set_data(path, value, None).await?;
        if stat.num_children > 0 {
            match client.delete(&marker_of(path), None).await {
                Ok(()) | Err(zk::Error::NoNode) => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(version_of(&stat));
    }
    let mut multi = client.new_multi_writer();
    multi.add_create(&marker_of(path), &[], &persistent(secured))?;
    multi.add_set_data(path, &[], None)?;
    match multi.commit().await {
        Ok(results) => set_data_version(results),
        Err(zk::MultiWriteError::OperationFailed {
            index: 0,
            source: zk::Error::NodeExists,
        }) => Ok(version_of(&client.set_data(path, &[], None).await?)),
        Err(e) => Err(e.into()),
    }
}

/// Creates the znode `path` holding `value`; `NodeExists` when it exists, `NoNode` when its parent does not.
async fn create(
    client: &zk::Client,
    path: &str,
    value: &[u8],
    secured: bool,
) -> std::result::Result<u64, zk::Error> {
    if !value.is_empty() {
        let (stat, _) = client.create(path, value, &persistent(secured)).await?;
        return Ok(version_of(&stat));
    }
    let mut multi = client.new_multi_writer();
    multi.add_create(path, &[], &persistent(secured))?;
    multi.add_create(&marker_of(path), &[], &persistent(secured))?;
    multi.add_set_data(path, &[], None)?;
    set_data_version(multi.commit().await?)
}

fn set_data_version(results: Vec<zk::MultiWriteResult>) -> std::result::Result<u64, zk::Error> {
    results
        .into_iter()
        .find_map(|result| match result {
            zk::MultiWriteResult::SetData { stat } => Some(version_of(&stat)),
            _ => None,
        })
        .ok_or_else(|| zk::Error::UnexpectedError("a multi without its setData result".into()))
}

async fn write(
    client: &zk::Client,
    path: &str,
    value: &[u8],
    secured: bool,
) -> std::result::Result<u64, zk::Error> {
    for _ in 0..MAX_ATTEMPTS {
        match overwrite(client, path, value, secured).await {
            Err(zk::Error::NoNode) => {}
            done => return done,
        }
        match create(client, path, value, secured).await {
            Err(zk::Error::NodeExists) => {}
            Err(zk::Error::NoNode) => {
                if let Some((parent, _)) = path.rsplit_once('/').filter(|(p, _)| !p.is_empty()) {
                    client.mkdir(parent, &persistent(secured)).await?;
                }
            }
            done => return done,
        }
    }
    Err(zk::Error::UnexpectedError(format!(
        "the znode kept changing during {MAX_ATTEMPTS} attempts"
    )))
}

async fn remove(client: &zk::Client, path: &str) -> std::result::Result<bool, zk::Error> {
    for _ in 0..MAX_ATTEMPTS {
        let (data, stat) = match client.get_data(path).await {
            Ok(found) => found,
            Err(zk::Error::NoNode) => return Ok(false),
            Err(e) => return Err(e),
        };
        let marked =
            data.is_empty() && stat.num_children > 0 && client.check_stat(&marker_of(path)).await?.is_some();
        if data.is_empty() && !marked {
            return Ok(false);
        }
        let other_children = stat.num_children - i32::from(marked);
        let mut multi = client.new_multi_writer();
        if marked {
            multi.add_delete(&marker_of(path), None)?;
        }
        if other_children == 0 {
            multi.add_delete(path, Some(stat.version))?;
        } else {
            multi.add_set_data(path, &[], Some(stat.version))?;
        }
        match multi.commit().await.map_err(zk::Error::from) {
            Ok(_) => {
                if other_children == 0 {
                    prune_above(client, path).await?;
                }
                return Ok(true);
            }
            Err(zk::Error::BadVersion | zk::Error::NotEmpty | zk::Error::NoNode) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(zk::Error::UnexpectedError(format!(
        "the znode kept changing during {MAX_ATTEMPTS} attempts"
    )))
}

/// Removes the value-less, childless ancestors of the removed znode `path`, bottom up, stopping at the first
/// that holds data or children (or that another client changed meanwhile).
async fn prune_above(client: &zk::Client, path: &str) -> std::result::Result<(), zk::Error> {
    let mut current = path;
    while let Some((parent, _)) = current.rsplit_once('/').filter(|(p, _)| !p.is_empty()) {
        let (data, stat) = match client.get_data(parent).await {
            Ok(found) => found,
            Err(zk::Error::NoNode) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !data.is_empty() || stat.num_children > 0 {
            return Ok(());
        }
        match client.delete(parent, Some(stat.version)).await {
            Ok(()) => current = parent,
            Err(zk::Error::NotEmpty | zk::Error::BadVersion | zk::Error::NoNode) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether a value is stored at `path` or anywhere below it.
async fn holds_value(client: &zk::Client, path: String) -> std::result::Result<bool, zk::Error> {
    let mut pending = vec![path];
    while let Some(path) = pending.pop() {
        let (children, stat) = match client.get_children(&path).await {
            Ok(found) => found,
            Err(zk::Error::NoNode) => continue,
            Err(e) => return Err(e),
        };
        if stat.data_length > 0 || children.iter().any(|c| c == EMPTY_VALUE_MARKER) {
            return Ok(true);
        }
        pending.extend(
            children
                .into_iter()
                .filter(|c| is_child_name(c))
                .map(|c| format!("{path}/{c}")),
        );
    }
    Ok(false)
}

async fn list(client: &zk::Client, path: &str) -> std::result::Result<Vec<String>, zk::Error> {
    let names = match client.list_children(path).await {
        Ok(names) => names,
        Err(zk::Error::NoNode) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let candidates: Vec<String> = names.into_iter().filter(|n| is_child_name(n)).collect();
    let checks = candidates
        .iter()
        .map(|name| holds_value(client, format!("{path}/{name}")));
    let held = futures::future::try_join_all(checks).await?;
    let mut out: Vec<String> = candidates
        .into_iter()
        .zip(held)
        .filter_map(|(name, held)| held.then_some(name))
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Reads the znode's value and arms a watch that fires on its next change (or creation when absent).
async fn read_and_watch(
    client: &zk::Client,
    path: &str,
) -> std::result::Result<(Versioned, zk::OneshotWatcher), zk::Error> {
    for _ in 0..MAX_ATTEMPTS {
        match client.get_and_watch_data(path).await {
            Ok((data, stat, watcher)) => {
                let value = value_of(client, path, data, &stat).await?;
                let version = if value.is_some() { version_of(&stat) } else { 0 };
                return Ok((Versioned { value, version }, watcher));
            }
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(e),
        }
        if let (None, watcher) = client.check_and_watch_stat(path).await? {
            return Ok((
                Versioned {
                    value: None,
                    version: 0,
                },
                watcher,
            ));
        }
    }
    Err(zk::Error::UnexpectedError(format!(
        "the znode kept appearing and disappearing during {MAX_ATTEMPTS} attempts"
    )))
}

/// The state of one watch: the data watch armed by the last read (none after a failure), and the last item
/// delivered.
struct Watching {
    shared: Arc<Shared>,
    reconnect: Reconnect,
    key: Key,
    armed: Option<zk::OneshotWatcher>,
    last: Option<Versioned>,
}

impl Watching {
    /// The next item of the watch stream; `None` once the store is dropped or after a non-retryable error.
    async fn next(mut self) -> Option<(Result<Versioned>, Watching)> {
        loop {
            if !self.reconnect.ready().await {
                return None;
            }
            if let Some(armed) = self.armed.take() {
                self.reconnect.unless_closed(armed.changed()).await?;
            }
            let key = self.key.clone();
            let read = run(&self.shared, "watch", &key, async |client| {
                read_and_watch(client, key.as_str()).await
            });
            match self.reconnect.unless_closed(read).await? {
                Ok((current, armed)) => {
                    self.armed = Some(armed);
                    self.reconnect.succeeded();
                    if self.last.as_ref() != Some(&current) {
                        self.last = Some(current.clone());
                        return Some((Ok(current), self));
                    }
                }
                Err(e) => {
                    if let Some(report) = self.reconnect.failed(e) {
                        return Some((Err(report), self));
                    }
                }
            }
        }
    }
}

#[async_trait]
impl KeyValueStore for ZooKeeperStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>> {
        self.run("get", key, async |client| read(client, key.as_str()).await)
            .await
    }

    async fn set(&self, key: &Key, value: Vec<u8>) -> Result<u64> {
        check_one_write("ZooKeeper", key, &value, MAX_VALUE_BYTES)?;
        let secured = self.shared.auth.is_some();
        self.run("set", key, async |client| {
            write(client, key.as_str(), &value, secured).await
        })
        .await
    }

    async fn delete(&self, key: &Key) -> Result<bool> {
        self.run("delete", key, async |client| remove(client, key.as_str()).await)
            .await
    }

    async fn children(&self, key: &Key) -> Result<Vec<String>> {
        self.run("children", key, async |client| list(client, key.as_str()).await)
            .await
    }

    fn watch(&self, key: &Key) -> BoxStream<'static, Result<Versioned>> {
        let watching = Watching {
            shared: Arc::clone(&self.shared),
            reconnect: Reconnect::new(self.closed.clone(), Reporting::EveryFailure),
            key: key.clone(),
            armed: None,
            last: None,
        };
        futures::stream::unfold(watching, Watching::next).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::ErrorKind;

    #[test]
    fn hosts_join_into_a_connect_string() {
        let hosts = ["a:2181".to_string(), "b".to_string(), "[::1]:2182".to_string()];
        assert_eq!(connect_string(&hosts).unwrap(), "a:2181,b,[::1]:2182");
    }

    #[test]
    fn malformed_hosts_are_refused() {
        assert_eq!(connect_string(&[]).unwrap_err().kind(), ErrorKind::Invalid);
        for bad in ["", "a,b", "a/chroot", "a b", "a\n"] {
            let err = connect_string(&[bad.to_string()]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn the_marker_is_no_key_segment() {
        assert!(Key::parse("/vamp").unwrap().join(EMPTY_VALUE_MARKER).is_err());
        assert!(!is_child_name(EMPTY_VALUE_MARKER));
        assert!(is_child_name("configuration"));
        assert!(!is_child_name("zookeeper quota x"));
    }

    #[test]
    fn lost_sessions_are_retryable_and_bad_arguments_are_invalid() {
        let key = Key::parse("/vamp/x").unwrap();
        let lost = failure("h", "get", &key, zk::Error::ConnectionLoss);
        assert!(lost.is_retryable());
        assert!(lost.message().contains("'/vamp/x'"));
        let bad = failure("h", "set", &key, zk::Error::BadArguments(&"bad path"));
        assert_eq!(bad.kind(), ErrorKind::Invalid);
        let denied = failure("h", "set", &key, zk::Error::NoAuth);
        assert_eq!(denied.kind(), ErrorKind::Backend);
    }
}
