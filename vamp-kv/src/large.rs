//! [`LargeValues`]: a [`KeyValueStore`] decorator that carries values larger than the wrapped store accepts in
//! one write, by compression and then chunking with an atomic switch. It works on every backend because it only
//! uses the [`KeyValueStore`] methods of the store it wraps.
//!
//! # Stored format
//!
//! What the wrapped store holds at a user key is one of:
//!
//! - **plain**: the value itself, when it fits the limit and does not start with the magic bytes. Other tools
//!   (the original gateway agent, `etcdctl`, `redis-cli`) read such values unchanged.
//! - **an envelope**: a 6-byte header, `\0VLV` (magic), the format version `1`, and a kind byte:
//!   - `R` (raw): the value follows unchanged. Only for small values that start with the magic bytes
//!     themselves, so that they read back as written.
//!   - `Z` (zstd): the original length as 8 bytes big-endian, then one zstd frame of the value.
//!   - `M` (manifest): a JSON object naming the chunks that hold the value:
//!     `{"chunks":"/.vamp-large/<key digest>/<generation>","count":3,"bytes":3146000,"encoding":"identity",
//!     "size":3145728,"sha1":"<hex>"}`. `encoding` is `zstd` (the chunks hold one zstd frame) or `identity`;
//!     `bytes` and `sha1` describe the concatenated chunks, `size` the value.
//!
//! Chunk `i` lies at `<chunks>/<i>` (`i` from 0), under the reserved root [`RESERVED_ROOT`]: `<key digest>` is the
//! first 16 hex digits of the SHA-1 of the user key, `<generation>` is new for every write. User keys under the
//! reserved root are refused, so internal keys never show up in `children()` of a user key.
//!
//! # Writes and reads
//!
//! A value above the limit is compressed; if it still does not fit, its chunks are written first, then the
//! manifest is written at the key in ONE write: the atomic switch that readers and watches see. Only then is the
//! chunk set of the previous manifest deleted. A reader that races a writer and finds a chunk gone (or not matching
//! the manifest's digest) reads the manifest again and resolves that; a chunk set the manifest still names but that
//! is damaged is a `Backend` error. Watches resolve every item the same way.
//!
//! To know the previous chunk set, a `set` or `delete` reads the key first, except where this instance wrote the
//! key itself and remembers what it wrote: then it saves that read (a round trip per write, which would otherwise
//! dominate the cost of a small write).
//!
//! Chunk sets can be left behind, never half-read: when a write fails after its chunks were written (a manifest
//! write that timed out may still have been applied, so its chunks are kept), when a writer crashes between its
//! chunks and its manifest, when two writers replace the same key at the same moment, or when another writer
//! put a chunked value at a key this instance remembers as unchunked. Every chunked write and every delete of a
//! key therefore sweeps the key's chunk sets (`/.vamp-large/<key digest>/*`) that are older than [`SWEEP_AGE`] and
//! not the current one; the age keeps a sweep from touching a chunk set whose writer is still at work.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use vamp_core::kv::{Key, KeyValueStore, Versioned};
use vamp_core::{Error, Result};

/// The first segment of every internal key (`/.vamp-large/...`). User keys under it are refused.
pub const RESERVED_ROOT: &str = ".vamp-large";

/// The bytes every envelope starts with.
pub const MAGIC: &[u8; 4] = b"\0VLV";

/// The envelope format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// The smallest per-write limit: a manifest must fit in one write. Smaller limits are raised to it.
pub const MIN_LIMIT: usize = 1024;

/// How old a chunk set not named by the current manifest must be before a sweep deletes it. Generations are
/// named by their writer's clock, so this also covers clock skew between writers.
pub const SWEEP_AGE: Duration = Duration::from_secs(600);

/// The largest value accepted: bigger values are refused with `Invalid`, and a stored header or manifest that
/// declares more is treated as damaged rather than allocated.
pub const MAX_VALUE_BYTES: usize = 1 << 30;

/// The check a backend's `set` makes before it sends `value`: above `limit`, the most one write of `backend`
/// carries, the value is refused with `Invalid` naming the key, both sizes and [`LargeValues`], which stores it
/// in parts.
pub fn check_one_write(backend: &str, key: &Key, value: &[u8], limit: usize) -> Result<()> {
    if value.len() > limit {
        return Err(Error::invalid(format!(
            "{backend}: the value for '{key}' has {} bytes, more than one write carries ({limit}); wrap the store \
             in vamp_kv::large::LargeValues (vamp_kv::url::connect does) to store larger values.",
            value.len()
        )));
    }
    Ok(())
}

const KIND_RAW: u8 = b'R';
const KIND_ZSTD: u8 = b'Z';
const KIND_MANIFEST: u8 = b'M';
const HEADER_LEN: usize = MAGIC.len() + 2;
const LENGTH_LEN: usize = 8;
const ZSTD_LEVEL: i32 = 3;
const PARALLEL_CHUNKS: usize = 4;
const RESOLVE_ATTEMPTS: usize = 5;

/// Wraps a store so any value fits, whatever the store's per-write limit. See the module documentation for the
/// format. `S` may be unsized (`LargeValues<dyn KeyValueStore>`).
pub struct LargeValues<S: ?Sized> {
    inner: Arc<S>,
    limit: usize,
    /// What this instance last wrote at a key: the manifest when it was chunked, `None` when it was not.
    written: Mutex<HashMap<Key, Option<Manifest>>>,
}

impl<S: KeyValueStore + 'static> LargeValues<S> {
    /// Wraps `inner`, which accepts values of at most `limit` bytes in one write (raised to [`MIN_LIMIT`]).
    pub fn new(inner: S, limit: usize) -> Self {
        Self::from_arc(Arc::new(inner), limit)
    }
}

impl<S: KeyValueStore + ?Sized + 'static> LargeValues<S> {
    /// Wraps a shared store, e.g. an `Arc<dyn KeyValueStore>`.
    pub fn from_arc(inner: Arc<S>, limit: usize) -> Self {
        LargeValues {
            inner,
            limit: limit.max(MIN_LIMIT),
            written: Mutex::new(HashMap::new()),
        }
    }

    /// The wrapped store: reading through it shows the stored format.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The per-write limit in force.
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn written(&self) -> MutexGuard<'_, HashMap<Key, Option<Manifest>>> {
        self.written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The manifest the key holds: remembered when this instance wrote the key, else read.
    async fn previous_chunks(&self, key: &Key) -> Result<Option<Manifest>> {
        if let Some(known) = self.written().get(key) {
            return Ok(known.clone());
        }
        let stored = self.inner.get(key).await?;
        Ok(stored
            .and_then(|v| v.value)
            .and_then(|bytes| match classify(key, &bytes) {
                Ok(Stored::Manifest(m)) => Some(m),
                _ => None,
            }))
    }

    async fn write(&self, key: &Key, value: Vec<u8>) -> Result<(u64, Option<Manifest>)> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(Error::invalid(format!(
                "The value for '{key}' is {} bytes; the key-value store takes at most {MAX_VALUE_BYTES} bytes.",
                value.len()
            )));
        }
        if value.len() <= self.limit && !value.starts_with(MAGIC) {
            return Ok((self.inner.set(key, value).await?, None));
        }
        if value.len() + HEADER_LEN <= self.limit {
            let mut stored = header(KIND_RAW);
            stored.extend_from_slice(&value);
            return Ok((self.inner.set(key, stored).await?, None));
        }
        let frame = compress(key, &value)?;
        if HEADER_LEN + LENGTH_LEN + frame.len() <= self.limit {
            let mut stored = header(KIND_ZSTD);
            stored.extend_from_slice(&(value.len() as u64).to_be_bytes());
            stored.extend_from_slice(&frame);
            return Ok((self.inner.set(key, stored).await?, None));
        }
        let size = value.len() as u64;
        let (payload, encoding) = if frame.len() < value.len() {
            (frame, Encoding::Zstd)
        } else {
            (value, Encoding::Identity)
        };
        let chunks = chunk_prefix(key)?;
        let pieces: Vec<(Key, Vec<u8>)> = payload
            .chunks(self.limit)
            .enumerate()
            .map(|(i, piece)| Ok((chunks.join(&i.to_string())?, piece.to_vec())))
            .collect::<Result<_>>()?;
        let manifest = Manifest {
            chunks: chunks.as_str().to_string(),
            count: pieces.len() as u64,
            bytes: payload.len() as u64,
            encoding,
            size,
            sha1: hex(&Sha1::digest(&payload)),
        };
        drop(payload);
        stream::iter(pieces)
            .map(|(chunk, piece)| async move { self.inner.set(&chunk, piece).await })
            .buffer_unordered(PARALLEL_CHUNKS)
            .try_for_each(|_| async { Ok(()) })
            .await?;
        let mut stored = header(KIND_MANIFEST);
        serde_json::to_writer(&mut stored, &manifest)
            .map_err(|e| Error::backend(format!("Cannot encode the large-value manifest of '{key}': {e}")))?;
        let version = self.inner.set(key, stored).await?;
        Ok((version, Some(manifest)))
    }

    async fn delete_chunks(&self, manifest: &Manifest) {
        let Ok(chunks) = manifest.chunks_key() else {
            return;
        };
        self.delete_children(&chunks, (0..manifest.count).map(|i| i.to_string()))
            .await;
    }

    /// Deletes the children `names` of `parent`, `PARALLEL_CHUNKS` at a time. Best effort: a chunk that cannot be
    /// deleted now is left behind for a later sweep; the write that replaced it has succeeded.
    async fn delete_children(&self, parent: &Key, names: impl IntoIterator<Item = String>) {
        stream::iter(names)
            .filter_map(|name| {
                let chunk = parent.join(&name).ok();
                async move { chunk }
            })
            .map(|chunk| async move {
                let _ = self.inner.delete(&chunk).await;
            })
            .buffer_unordered(PARALLEL_CHUNKS)
            .collect::<()>()
            .await;
    }

    /// Deletes the key's chunk sets older than [`SWEEP_AGE`] other than `current`. Best effort: a sweep that
    /// cannot list or delete leaves the rest to the next one.
    async fn sweep(&self, key: &Key, current: Option<&str>) {
        let Ok(directory) = key_directory(key) else {
            return;
        };
        let Ok(generations) = self.inner.children(&directory).await else {
            return;
        };
        let now = now_nanos();
        for generation in generations {
            let Ok(chunks) = directory.join(&generation) else {
                continue;
            };
            let written_at = generation
                .split('-')
                .next()
                .and_then(|hex| u128::from_str_radix(hex, 16).ok());
            let old_enough = written_at.is_some_and(|at| now.saturating_sub(at) >= SWEEP_AGE.as_nanos());
            if !old_enough || Some(chunks.as_str()) == current {
                continue;
            }
            let Ok(names) = self.inner.children(&chunks).await else {
                continue;
            };
            self.delete_children(&chunks, names).await;
        }
    }
}

#[async_trait]
impl<S: KeyValueStore + ?Sized + 'static> KeyValueStore for LargeValues<S> {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>> {
        check_user_key(key)?;
        match self.inner.get(key).await? {
            Some(stored) => Ok(Some(resolve(&*self.inner, key, stored).await?.0)),
            None => Ok(None),
        }
    }

    async fn set(&self, key: &Key, value: Vec<u8>) -> Result<u64> {
        check_user_key(key)?;
        let previous = self.previous_chunks(key).await?;
        let (version, written) = match self.write(key, value).await {
            Ok(done) => done,
            Err(e) => {
                self.written().remove(key);
                return Err(e);
            }
        };
        self.written().insert(key.clone(), written.clone());
        if let Some(old) = previous {
            if written.as_ref().map(|m| &m.chunks) != Some(&old.chunks) {
                self.delete_chunks(&old).await;
            }
        }
        if let Some(new) = &written {
            self.sweep(key, Some(&new.chunks)).await;
        }
        Ok(version)
    }

    async fn delete(&self, key: &Key) -> Result<bool> {
        check_user_key(key)?;
        let previous = self.previous_chunks(key).await?;
        let existed = match self.inner.delete(key).await {
            Ok(existed) => existed,
            Err(e) => {
                self.written().remove(key);
                return Err(e);
            }
        };
        self.written().insert(key.clone(), None);
        if let Some(old) = previous {
            self.delete_chunks(&old).await;
        }
        self.sweep(key, None).await;
        Ok(existed)
    }

    async fn children(&self, key: &Key) -> Result<Vec<String>> {
        check_user_key(key)?;
        self.inner.children(key).await
    }

    fn watch(&self, key: &Key) -> BoxStream<'static, Result<Versioned>> {
        if let Err(e) = check_user_key(key) {
            return stream::once(async move { Err(e) }).boxed();
        }
        let state = WatchState {
            items: self.inner.watch(key),
            store: Arc::downgrade(&self.inner),
            key: key.clone(),
            ended: false,
            ahead: None,
        };
        stream::unfold(state, next_watch_item).boxed()
    }
}

struct WatchState<S: ?Sized> {
    items: BoxStream<'static, Result<Versioned>>,
    store: Weak<S>,
    key: Key,
    ended: bool,
    /// The version a re-read delivered ahead of the wrapped watch; older items still queued there are skipped.
    ahead: Option<u64>,
}

async fn next_watch_item<S: KeyValueStore + ?Sized>(
    mut state: WatchState<S>,
) -> Option<(Result<Versioned>, WatchState<S>)> {
    loop {
        if state.ended {
            return None;
        }
        let mut item = state.items.next().await?;
        while let Some(next) = state.items.next().now_or_never() {
            match next {
                Some(newer) => item = newer,
                None => {
                    state.ended = true;
                    break;
                }
            }
        }
        let stored = match item {
            Ok(stored) => stored,
            Err(e) => {
                state.ahead = None;
                return Some((Err(e), state));
            }
        };
        if let Some(ahead) = state.ahead {
            if stored.version != 0 && stored.version < ahead {
                continue;
            }
            state.ahead = None;
        }
        let store = state.store.upgrade()?;
        let result = match resolve(&*store, &state.key, stored).await {
            Ok((resolved, reread)) => {
                if reread && resolved.value.is_some() {
                    state.ahead = Some(resolved.version);
                }
                Ok(resolved)
            }
            Err(e) => Err(e),
        };
        return Some((result, state));
    }
}

/// The user's value behind what the store holds; `true` when a manifest had to be read again because the
/// chunks it named were replaced meanwhile (the result is then newer than `stored`).
async fn resolve<S: KeyValueStore + ?Sized>(
    store: &S,
    key: &Key,
    mut stored: Versioned,
) -> Result<(Versioned, bool)> {
    let mut reread = false;
    for _ in 0..RESOLVE_ATTEMPTS {
        let Some(bytes) = stored.value else {
            return Ok((stored, reread));
        };
        let version = stored.version;
        let resolved = |value| {
            Ok((
                Versioned {
                    value: Some(value),
                    version,
                },
                reread,
            ))
        };
        let manifest = match classify(key, &bytes)? {
            Stored::Plain => return resolved(bytes),
            Stored::Raw => return resolved(bytes.get(HEADER_LEN..).unwrap_or_default().to_vec()),
            Stored::Zstd { size } => {
                let frame = bytes.get(HEADER_LEN + LENGTH_LEN..).unwrap_or_default();
                return resolved(decompress(key, frame, size)?);
            }
            Stored::Manifest(manifest) => manifest,
        };
        match read_chunks(store, key, &manifest).await? {
            Some(value) => return resolved(value),
            None => {
                let again = store.get(key).await?.unwrap_or(Versioned {
                    value: None,
                    version: 0,
                });
                if again.version == version && again.value.as_deref() == Some(&bytes[..]) {
                    return Err(Error::backend(format!(
                        "The large value at '{key}' is damaged: its manifest names chunks under '{}' that are \
                         missing or do not match its digest. Write the value again.",
                        manifest.chunks
                    )));
                }
                stored = again;
                reread = true;
            }
        }
    }
    Err(Error::unavailable(format!(
        "The large value at '{key}' was replaced {RESOLVE_ATTEMPTS} times while it was being read; try again."
    )))
}

/// The value the chunks hold, or `None` when one is missing or they do not match the manifest.
async fn read_chunks<S: KeyValueStore + ?Sized>(
    store: &S,
    key: &Key,
    manifest: &Manifest,
) -> Result<Option<Vec<u8>>> {
    let chunks = manifest.chunks_key()?;
    let keys = (0..manifest.count)
        .map(|i| chunks.join(&i.to_string()))
        .collect::<Result<Vec<_>>>()?;
    let pieces: Vec<Option<Versioned>> = stream::iter(keys)
        .map(|chunk| async move { store.get(&chunk).await })
        .buffered(PARALLEL_CHUNKS)
        .try_collect()
        .await?;
    let mut payload = Vec::with_capacity(manifest.bytes_usize()?);
    for piece in pieces {
        match piece.and_then(|p| p.value) {
            Some(bytes) => payload.extend_from_slice(&bytes),
            None => return Ok(None),
        }
        if payload.len() as u64 > manifest.bytes {
            return Ok(None);
        }
    }
    if payload.len() as u64 != manifest.bytes || hex(&Sha1::digest(&payload)) != manifest.sha1 {
        return Ok(None);
    }
    match manifest.encoding {
        Encoding::Identity => Ok(Some(payload)),
        Encoding::Zstd => decompress(key, &payload, manifest.size).map(Some),
    }
}

/// Refuses user keys under the reserved root.
fn check_user_key(key: &Key) -> Result<()> {
    if key.segments().next() == Some(RESERVED_ROOT) {
        return Err(Error::invalid(format!(
            "The key '{key}' lies under '/{RESERVED_ROOT}', which is reserved for the chunks of large values; \
             choose another first segment."
        )));
    }
    Ok(())
}

/// `/.vamp-large/<key digest>`: where the chunk sets of `key` lie.
fn key_directory(key: &Key) -> Result<Key> {
    let digest = hex(&Sha1::digest(key.as_str().as_bytes()));
    Key::parse(&format!("/{RESERVED_ROOT}"))?.join(digest.get(..16).unwrap_or(&digest))
}

/// A fresh chunk-set key for a write of `key`: `<key directory>/<generation>`, the generation being the writer's
/// clock in nanoseconds, its process id and a counter (hex, separated by `-`).
fn chunk_prefix(key: &Key) -> Result<Key> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let generation = format!(
        "{:x}-{:x}-{:x}",
        now_nanos(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    key_directory(key)?.join(&generation)
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn header(kind: u8) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    bytes.extend_from_slice(MAGIC);
    bytes.push(FORMAT_VERSION);
    bytes.push(kind);
    bytes
}

/// What a stored value is.
#[derive(Debug)]
enum Stored {
    Plain,
    Raw,
    Zstd { size: u64 },
    Manifest(Manifest),
}

fn classify(key: &Key, bytes: &[u8]) -> Result<Stored> {
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        return Ok(Stored::Plain);
    };
    let damaged = |what: &str| {
        Error::backend(format!(
            "The value at '{key}' starts with the large-value header but {what}; write the value again."
        ))
    };
    match rest {
        [FORMAT_VERSION, KIND_RAW, ..] => Ok(Stored::Raw),
        [FORMAT_VERSION, KIND_ZSTD, tail @ ..] => {
            let length: [u8; LENGTH_LEN] = tail
                .get(..LENGTH_LEN)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| damaged("is too short to hold a length"))?;
            Ok(Stored::Zstd {
                size: u64::from_be_bytes(length),
            })
        }
        [FORMAT_VERSION, KIND_MANIFEST, json @ ..] => serde_json::from_slice(json)
            .map(Stored::Manifest)
            .map_err(|e| damaged(&format!("its manifest does not parse ({e})"))),
        [FORMAT_VERSION, kind, ..] => Err(damaged(&format!("has the unknown kind {:?}", char::from(*kind)))),
        [version, ..] => Err(Error::backend(format!(
            "The value at '{key}' has large-value format version {version}; this build reads version \
             {FORMAT_VERSION}. Upgrade Vamp, or write the value again."
        ))),
        [] => Err(damaged("ends after the magic bytes")),
    }
}

fn compress(key: &Key, value: &[u8]) -> Result<Vec<u8>> {
    zstd::bulk::compress(value, ZSTD_LEVEL)
        .map_err(|e| Error::backend(format!("Cannot compress the value for '{key}': {e}")))
}

fn decompress(key: &Key, frame: &[u8], size: u64) -> Result<Vec<u8>> {
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s <= MAX_VALUE_BYTES)
        .ok_or_else(|| {
            Error::backend(format!(
                "The compressed value at '{key}' declares {size} bytes, more than the {MAX_VALUE_BYTES} allowed; \
                 write the value again."
            ))
        })?;
    let value = zstd::bulk::decompress(frame, size).map_err(|e| {
        Error::backend(format!(
            "The compressed value at '{key}' does not decompress ({e}); write the value again."
        ))
    })?;
    if value.len() != size {
        return Err(Error::backend(format!(
            "The compressed value at '{key}' holds {} bytes but declares {size}; write the value again.",
            value.len()
        )));
    }
    Ok(value)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How the concatenated chunks encode the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Encoding {
    Zstd,
    Identity,
}

/// The JSON body of a manifest envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    chunks: String,
    count: u64,
    bytes: u64,
    encoding: Encoding,
    size: u64,
    sha1: String,
}

impl Manifest {
    /// The chunk-set key, which must lie under the reserved root (a manifest naming anything else is refused,
    /// so a forged one cannot make a write delete user keys).
    fn chunks_key(&self) -> Result<Key> {
        let key = Key::parse(&self.chunks)?;
        if key.segments().next() != Some(RESERVED_ROOT) || key.segments().count() < 2 {
            return Err(Error::backend(format!(
                "A large-value manifest names chunks at '{}', outside '/{RESERVED_ROOT}'; write the value again.",
                self.chunks
            )));
        }
        Ok(key)
    }

    fn bytes_usize(&self) -> Result<usize> {
        usize::try_from(self.bytes)
            .ok()
            .filter(|b| *b <= MAX_VALUE_BYTES && self.count <= self.bytes.max(1))
            .ok_or_else(|| {
                Error::backend(format!(
                    "A large-value manifest declares {} bytes in {} chunks; at most {MAX_VALUE_BYTES} bytes are \
                     allowed. Write the value again.",
                    self.bytes, self.count
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::memory::MemoryKeyValueStore;
    use vamp_core::ErrorKind;

    const LIMIT: usize = 1024;

    #[test]
    fn a_value_above_one_write_is_refused_naming_large_values() {
        let key = Key::parse("/vamp/x").unwrap();
        assert!(check_one_write("etcd", &key, &[0; 10], 10).is_ok());
        let e = check_one_write("etcd", &key, &[0; 11], 10).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        for part in ["etcd", "'/vamp/x'", "11 bytes", "(10)", "LargeValues"] {
            assert!(e.message().contains(part), "{part}: {e}");
        }
    }

    fn store() -> LargeValues<MemoryKeyValueStore> {
        LargeValues::new(MemoryKeyValueStore::new(), LIMIT)
    }

    fn key(text: &str) -> Key {
        Key::parse(text).unwrap()
    }

    fn haproxy_like(bytes: usize) -> Vec<u8> {
        let mut text = String::new();
        let mut i = 0;
        while text.len() < bytes {
            text.push_str(&format!(
                "backend route-{i}\n  balance roundrobin\n  server s{i} 10.0.{}.{}:8080 weight {}\n",
                i / 250 % 250,
                i % 250,
                i % 100
            ));
            i += 1;
        }
        text.truncate(bytes);
        text.into_bytes()
    }

    fn noise(bytes: usize) -> Vec<u8> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        (0..bytes)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    async fn raw(s: &LargeValues<MemoryKeyValueStore>, k: &Key) -> Vec<u8> {
        s.inner().get(k).await.unwrap().unwrap().value.unwrap()
    }

    async fn internal_keys(s: &LargeValues<MemoryKeyValueStore>) -> usize {
        let root = key(&format!("/{RESERVED_ROOT}"));
        let mut count = 0;
        for digest in s.inner().children(&root).await.unwrap() {
            let d = root.join(&digest).unwrap();
            for generation in s.inner().children(&d).await.unwrap() {
                count += s
                    .inner()
                    .children(&d.join(&generation).unwrap())
                    .await
                    .unwrap()
                    .len();
            }
        }
        count
    }

    #[tokio::test]
    async fn small_values_are_stored_as_they_are() {
        let s = store();
        let k = key("/vamp/default/small");
        s.set(&k, b"frontend x".to_vec()).await.unwrap();
        assert_eq!(raw(&s, &k).await, b"frontend x");
        assert_eq!(s.get(&k).await.unwrap().unwrap().value.unwrap(), b"frontend x");
    }

    #[tokio::test]
    async fn a_value_of_exactly_the_limit_is_stored_as_it_is() {
        let s = store();
        let k = key("/vamp/edge");
        let value = noise(LIMIT);
        s.set(&k, value.clone()).await.unwrap();
        assert_eq!(raw(&s, &k).await, value);
    }

    #[tokio::test]
    async fn a_small_value_that_looks_like_an_envelope_reads_back_unchanged() {
        let s = store();
        let k = key("/vamp/tricky");
        let mut value = MAGIC.to_vec();
        value.extend_from_slice(&[FORMAT_VERSION, KIND_MANIFEST, b'{']);
        s.set(&k, value.clone()).await.unwrap();
        assert_eq!(&raw(&s, &k).await[..HEADER_LEN], &header(KIND_RAW)[..]);
        assert_eq!(s.get(&k).await.unwrap().unwrap().value.unwrap(), value);
    }

    #[tokio::test]
    async fn compressible_values_above_the_limit_are_compressed_into_one_write() {
        let s = store();
        let k = key("/vamp/default/gateways/haproxy/2.6/configuration");
        let value = vec![b'a'; 20 * LIMIT];
        let version = s.set(&k, value.clone()).await.unwrap();
        let stored = raw(&s, &k).await;
        assert!(stored.len() <= LIMIT);
        assert_eq!(&stored[..HEADER_LEN], &header(KIND_ZSTD)[..]);
        assert_eq!(internal_keys(&s).await, 0);
        assert_eq!(
            s.get(&k).await.unwrap(),
            Some(Versioned {
                value: Some(value),
                version
            })
        );
    }

    #[tokio::test]
    async fn incompressible_values_are_chunked_behind_a_manifest() {
        let s = store();
        let k = key("/vamp/big");
        let value = noise(10 * LIMIT + 17);
        let version = s.set(&k, value.clone()).await.unwrap();
        let stored = raw(&s, &k).await;
        assert_eq!(&stored[..HEADER_LEN], &header(KIND_MANIFEST)[..]);
        let manifest: Manifest = serde_json::from_slice(&stored[HEADER_LEN..]).unwrap();
        assert_eq!(manifest.encoding, Encoding::Identity);
        assert_eq!(manifest.count, 11);
        assert_eq!(manifest.size, value.len() as u64);
        assert_eq!(internal_keys(&s).await, 11);
        let got = s.get(&k).await.unwrap().unwrap();
        assert_eq!(got.version, version);
        assert!(got.value.as_deref() == Some(&value[..]));
    }

    #[tokio::test]
    async fn large_text_is_compressed_then_chunked() {
        let s = store();
        let k = key("/vamp/haproxy");
        let value = haproxy_like(2 * 1024 * 1024);
        s.set(&k, value.clone()).await.unwrap();
        let stored = raw(&s, &k).await;
        let manifest: Manifest = serde_json::from_slice(&stored[HEADER_LEN..]).unwrap();
        assert_eq!(manifest.encoding, Encoding::Zstd);
        assert!(manifest.bytes < value.len() as u64 / 4);
        assert!(s.get(&k).await.unwrap().unwrap().value.unwrap() == value);
    }

    #[tokio::test]
    async fn replacing_a_chunked_value_deletes_the_previous_chunks() {
        let s = store();
        let k = key("/vamp/big");
        s.set(&k, noise(5 * LIMIT)).await.unwrap();
        assert_eq!(internal_keys(&s).await, 5);
        s.set(&k, noise(3 * LIMIT)).await.unwrap();
        assert_eq!(internal_keys(&s).await, 3);
        s.set(&k, b"small again".to_vec()).await.unwrap();
        assert_eq!(internal_keys(&s).await, 0);
        assert_eq!(raw(&s, &k).await, b"small again");
    }

    #[tokio::test]
    async fn deleting_a_chunked_value_deletes_its_chunks() {
        let s = store();
        let k = key("/vamp/big");
        s.set(&k, noise(4 * LIMIT)).await.unwrap();
        assert!(s.delete(&k).await.unwrap());
        assert_eq!(internal_keys(&s).await, 0);
        assert_eq!(s.get(&k).await.unwrap(), None);
        assert!(!s.delete(&k).await.unwrap());
    }

    #[tokio::test]
    async fn internal_keys_never_show_up_in_children() {
        let s = store();
        let parent = key("/vamp");
        s.set(&parent.join("big").unwrap(), noise(3 * LIMIT))
            .await
            .unwrap();
        assert_eq!(s.children(&parent).await.unwrap(), ["big"]);
        assert!(s.children(&parent.join("big").unwrap()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn user_keys_under_the_reserved_root_are_refused() {
        let s = store();
        let k = key(&format!("/{RESERVED_ROOT}/mine"));
        for e in [
            s.set(&k, b"x".to_vec()).await.unwrap_err(),
            s.get(&k).await.unwrap_err(),
            s.delete(&k).await.unwrap_err(),
            s.children(&k).await.unwrap_err(),
            s.watch(&k).next().await.unwrap().unwrap_err(),
        ] {
            assert_eq!(e.kind(), ErrorKind::Invalid);
            assert!(e.message().contains("reserved"), "{}", e.message());
        }
    }

    #[tokio::test]
    async fn a_reader_that_finds_its_chunks_replaced_reads_the_manifest_again() {
        let s = store();
        let k = key("/vamp/race");
        s.set(&k, noise(3 * LIMIT)).await.unwrap();
        let stale = s.inner().get(&k).await.unwrap().unwrap();
        let newer = noise(4 * LIMIT + 1);
        let version = s.set(&k, newer.clone()).await.unwrap();
        let (resolved, reread) = resolve(s.inner(), &k, stale).await.unwrap();
        assert!(reread);
        assert_eq!(resolved.version, version);
        assert!(resolved.value.as_deref() == Some(&newer[..]));
    }

    #[tokio::test]
    async fn a_manifest_whose_chunks_are_gone_is_a_backend_error() {
        let s = store();
        let k = key("/vamp/broken");
        s.set(&k, noise(3 * LIMIT)).await.unwrap();
        let stored = raw(&s, &k).await;
        let manifest: Manifest = serde_json::from_slice(&stored[HEADER_LEN..]).unwrap();
        let chunk = manifest.chunks_key().unwrap().join("1").unwrap();
        s.inner().delete(&chunk).await.unwrap();
        let e = s.get(&k).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Backend);
        assert!(e.message().contains("damaged"), "{}", e.message());
    }

    #[tokio::test]
    async fn a_manifest_naming_user_keys_is_refused_and_deletes_nothing() {
        let s = store();
        let victim = key("/vamp/victim");
        s.inner()
            .set(&victim.join("0").unwrap(), b"keep".to_vec())
            .await
            .unwrap();
        let k = key("/vamp/forged");
        let mut forged = header(KIND_MANIFEST);
        forged.extend_from_slice(
            br#"{"chunks":"/vamp/victim","count":1,"bytes":4,"encoding":"identity","size":4,"sha1":"x"}"#,
        );
        s.inner().set(&k, forged).await.unwrap();
        assert_eq!(s.get(&k).await.unwrap_err().kind(), ErrorKind::Backend);
        s.set(&k, b"fine".to_vec()).await.unwrap();
        assert!(s.inner().get(&victim.join("0").unwrap()).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn an_unknown_format_version_is_a_clear_error() {
        let s = store();
        let k = key("/vamp/future");
        let mut stored = MAGIC.to_vec();
        stored.extend_from_slice(&[9, KIND_ZSTD]);
        s.inner().set(&k, stored).await.unwrap();
        let e = s.get(&k).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Backend);
        assert!(e.message().contains("version 9"), "{}", e.message());
    }

    #[tokio::test]
    async fn a_compressed_header_declaring_a_huge_size_is_refused() {
        let s = store();
        let k = key("/vamp/bomb");
        let mut stored = header(KIND_ZSTD);
        stored.extend_from_slice(&u64::MAX.to_be_bytes());
        stored.extend_from_slice(&compress(&k, b"tiny").unwrap());
        s.inner().set(&k, stored).await.unwrap();
        assert_eq!(s.get(&k).await.unwrap_err().kind(), ErrorKind::Backend);
    }

    #[tokio::test]
    async fn watches_resolve_chunked_values() {
        let s = store();
        let k = key("/vamp/watched");
        let first = noise(3 * LIMIT);
        s.set(&k, first.clone()).await.unwrap();
        let mut watch = s.watch(&k);
        let item = watch.next().await.unwrap().unwrap();
        assert!(item.value.as_deref() == Some(&first[..]));
        let second = haproxy_like(50 * LIMIT);
        let version = s.set(&k, second.clone()).await.unwrap();
        let item = watch.next().await.unwrap().unwrap();
        assert_eq!(item.version, version);
        assert!(item.value.as_deref() == Some(&second[..]));
        s.delete(&k).await.unwrap();
        assert_eq!(watch.next().await.unwrap().unwrap().value, None);
    }

    #[tokio::test]
    async fn a_watch_ends_when_the_store_is_dropped() {
        let s = store();
        let k = key("/vamp/w");
        let mut watch = s.watch(&k);
        assert_eq!(watch.next().await.unwrap().unwrap().value, None);
        drop(s);
        let end = tokio::time::timeout(std::time::Duration::from_secs(5), watch.next()).await;
        assert!(matches!(end, Ok(None)), "the watch must end with its store");
    }

    /// A memory store that counts its `get` calls.
    #[derive(Default)]
    struct CountingGets {
        store: MemoryKeyValueStore,
        gets: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl KeyValueStore for CountingGets {
        async fn get(&self, key: &Key) -> Result<Option<Versioned>> {
            self.gets.fetch_add(1, Ordering::Relaxed);
            self.store.get(key).await
        }
        async fn set(&self, key: &Key, value: Vec<u8>) -> Result<u64> {
            self.store.set(key, value).await
        }
        async fn delete(&self, key: &Key) -> Result<bool> {
            self.store.delete(key).await
        }
        async fn children(&self, key: &Key) -> Result<Vec<String>> {
            self.store.children(key).await
        }
        fn watch(&self, key: &Key) -> BoxStream<'static, Result<Versioned>> {
            self.store.watch(key)
        }
    }

    #[tokio::test]
    async fn a_set_reads_the_key_only_when_this_instance_did_not_write_it() {
        let s = LargeValues::new(CountingGets::default(), LIMIT);
        let k = key("/vamp/counted");
        let gets = || s.inner().gets.load(Ordering::Relaxed);
        s.set(&k, b"1".to_vec()).await.unwrap();
        assert_eq!(gets(), 1, "the first set reads what the key holds");
        s.set(&k, b"2".to_vec()).await.unwrap();
        s.set(&k, noise(3 * LIMIT)).await.unwrap();
        s.set(&k, b"3".to_vec()).await.unwrap();
        assert_eq!(gets(), 1, "later sets remember what this instance wrote");
    }

    #[tokio::test]
    async fn another_instance_replacing_a_chunked_value_deletes_its_chunks() {
        let shared = Arc::new(MemoryKeyValueStore::new());
        let a = LargeValues::from_arc(shared.clone(), LIMIT);
        let b = LargeValues::from_arc(shared.clone(), LIMIT);
        let k = key("/vamp/shared");
        a.set(&k, noise(4 * LIMIT)).await.unwrap();
        let directory = key_directory(&k).unwrap();
        assert_eq!(shared.children(&directory).await.unwrap().len(), 1);
        b.set(&k, b"small".to_vec()).await.unwrap();
        assert!(
            shared.children(&directory).await.unwrap().is_empty(),
            "a fresh instance reads the manifest and deletes its chunks"
        );
    }

    #[tokio::test]
    async fn chunked_writes_sweep_old_orphaned_chunk_sets_and_keep_young_ones() {
        let s = store();
        let k = key("/vamp/swept");
        let directory = key_directory(&k).unwrap();
        let old = directory.join("1-2-3").unwrap();
        let young = directory.join(&format!("{:x}-2-3", now_nanos())).unwrap();
        for orphan in [&old, &young] {
            s.inner()
                .set(&orphan.join("0").unwrap(), b"orphan".to_vec())
                .await
                .unwrap();
        }
        s.set(&k, noise(3 * LIMIT)).await.unwrap();
        let left = s.inner().children(&directory).await.unwrap();
        assert!(!left.contains(&"1-2-3".to_string()), "{left:?}");
        assert!(left.contains(&young.name().to_string()), "{left:?}");
        assert_eq!(left.len(), 2, "the young orphan and the current set: {left:?}");
        s.delete(&k).await.unwrap();
        assert_eq!(s.inner().children(&directory).await.unwrap(), [young.name()]);
    }

    #[test]
    fn limits_below_the_minimum_are_raised() {
        assert_eq!(
            LargeValues::new(MemoryKeyValueStore::new(), 10).limit(),
            MIN_LIMIT
        );
    }
}
