//! The host side: [`PluginDriver`] loads a plugin library from a configured directory, checks its ABI before any
//! call, and implements [`ContainerDriver`] by calling the plugin's table.
//!
//! Each call is registered under a fresh number that travels as the callback context; the completion callback
//! looks the number up and hands the copied payload to the waiting future. Nothing in the context is ever
//! dereferenced, so a late completion (after the caller gave up), a second completion, or a completion with a
//! context the host never issued finds no entry and is ignored. Each call runs the plugin's function on a thread
//! of its own, so a plugin that blocks instead of returning at once costs that thread, not the caller's runtime,
//! and the caller still gets its timeout.

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use vamp_core::driver::{ContainerDriver, DriverInfo, RunningService, ServiceId, ServiceSpec};
use vamp_core::{Error, ErrorKind, Result};

use super::abi::{
    EntryFnV1, Operation, OperationFn, PluginTableV1, TableHeader, ABI_VERSION_V1, ENTRY_SYMBOL_V1,
    STATUS_ERROR, STATUS_OK, STATUS_PANIC,
};
use super::wire::{self, Message};

/// How long a call may take before it fails with a retryable `Unavailable`, unless
/// [`PluginDriver::with_timeout`] says otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest payload the host copies out of a completion; a larger one is refused as garbage.
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// A container driver living in a dynamically loaded plugin library (ABI version 1).
///
/// The library is never unloaded: once loaded it stays mapped until the process exits, even when `load` refuses
/// it after looking inside. Unloading Rust code is unsound in general (thread-local destructors and threads the
/// plugin started would run code that is gone), so upgrading a plugin means restarting the process.
#[derive(Debug, Clone)]
pub struct PluginDriver {
    path: PathBuf,
    table: PluginTableV1,
    timeout: Duration,
}

impl PluginDriver {
    /// Loads the plugin library at `path`, which must lie inside one of `allowed_dirs` once both are canonicalized
    /// (symbolic links and `..` resolved), and checks its table before any call: the entry symbol
    /// `vamp_driver_plugin_v1`, a non-null aligned table, ABI version 1, a size covering every version-1 field,
    /// and a function in every slot.
    ///
    /// Fails with `Invalid` when the path is outside the allowed directories, is not a file, or the library is
    /// not a version-1 Vamp driver plugin. Loading runs the library's initialisers: a plugin is trusted code, and
    /// the directory check is what keeps untrusted files out.
    pub fn load(path: &Path, allowed_dirs: &[PathBuf]) -> Result<Self> {
        let path = allowed_path(path, allowed_dirs)?;
        // SAFETY: loading a library runs its initialisers, which may do anything; the library comes from a
        // directory the operator configured for trusted plugins (checked above), which is the documented trust
        // boundary. The library is leaked right after, so nothing it loaded is ever unmapped.
        let library = unsafe { libloading::Library::new(&path) }.map_err(|e| {
            Error::invalid(format!(
                "The driver plugin '{}' could not be loaded: {e}.",
                path.display()
            ))
        })?;
        let library: &'static libloading::Library = Box::leak(Box::new(library));
        // SAFETY: the symbol's type is the one ABI version 1 prescribes for `vamp_driver_plugin_v1`; a library
        // exporting that name with another type breaks the ABI contract, which the host cannot detect.
        let entry = unsafe { library.get::<EntryFnV1>(ENTRY_SYMBOL_V1) }.map_err(|e| {
            Error::invalid(format!(
                "'{}' is not a Vamp driver plugin of ABI version 1: it exports no 'vamp_driver_plugin_v1' ({e}).",
                path.display()
            ))
        })?;
        let entry: EntryFnV1 = *entry;
        let table = call_entry(entry, &path)?;
        // SAFETY: the pointer comes from the plugin's entry function, which promises a table valid for the
        // life of the process; `read_table` checks null, alignment, version and size before reading past the
        // header.
        let table = unsafe { read_table(table) }.map_err(|reason| {
            Error::invalid(format!(
                "The driver plugin '{}' is refused: {reason}.",
                path.display()
            ))
        })?;
        Ok(PluginDriver {
            path,
            table,
            timeout: DEFAULT_CALL_TIMEOUT,
        })
    }

    /// The same driver with another per-call timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The canonical path the plugin was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends `request` to `operation` and waits for its completion, at most the timeout.
    async fn call<Req: Message, Resp: Message>(&self, operation: Operation, request: &Req) -> Result<Resp> {
        let function = operation.function(&self.table).ok_or_else(|| {
            Error::backend(format!(
                "The driver plugin '{}' has no '{}' function.",
                self.path.display(),
                operation.name()
            ))
        })?;
        let request = wire::encode(request)?;
        let pending = PendingCall::register();
        invoke(function, request, pending.id, &self.path, operation)?;
        let completion = match tokio::time::timeout(self.timeout, pending.receiver).await {
            Ok(Ok(completion)) => completion,
            Ok(Err(_)) => {
                return Err(Error::backend(format!(
                    "The driver plugin '{}' dropped the '{}' call without an answer.",
                    self.path.display(),
                    operation.name()
                )))
            }
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Unavailable { retryable: true },
                    format!(
                        "The driver plugin '{}' did not answer '{}' within {:?}; it may be stuck.",
                        self.path.display(),
                        operation.name(),
                        self.timeout
                    ),
                ))
            }
        };
        self.outcome(operation, completion)
    }

    /// Turns a completion into the response or the error it carries.
    fn outcome<Resp: Message>(&self, operation: Operation, completion: Completion) -> Result<Resp> {
        let garbage = |reason: String| {
            Error::backend(format!(
                "The driver plugin '{}' answered '{}' with garbage: {reason}.",
                self.path.display(),
                operation.name()
            ))
        };
        let payload = completion.payload.map_err(garbage)?;
        match completion.status {
            STATUS_OK => wire::decode(&payload).map_err(garbage),
            STATUS_ERROR => Err(wire::decode::<wire::ErrorMessage>(&payload)
                .map_err(garbage)?
                .into()),
            STATUS_PANIC => Err(Error::backend(format!(
                "The driver plugin '{}' panicked in '{}': {}",
                self.path.display(),
                operation.name(),
                String::from_utf8_lossy(&payload)
            ))),
            other => Err(garbage(format!("unknown status {other}"))),
        }
    }
}

#[async_trait]
impl ContainerDriver for PluginDriver {
    async fn info(&self) -> Result<DriverInfo> {
        let response: wire::InfoResponse = self.call(Operation::Info, &wire::InfoRequest::new()).await?;
        Ok(response.info.into())
    }

    async fn list(&self, namespace: &str) -> Result<Vec<RunningService>> {
        let request = wire::ListRequest::new(namespace.to_string());
        let response: wire::ListResponse = self.call(Operation::List, &request).await?;
        Ok(response.services.into_iter().map(Into::into).collect())
    }

    async fn deploy(&self, spec: &ServiceSpec) -> Result<()> {
        let request = wire::DeployRequest::new(spec.into());
        let _: wire::DoneResponse = self.call(Operation::Deploy, &request).await?;
        Ok(())
    }

    async fn undeploy(&self, id: &ServiceId) -> Result<()> {
        let request = wire::UndeployRequest::new(id.into());
        let _: wire::DoneResponse = self.call(Operation::Undeploy, &request).await?;
        Ok(())
    }
}

/// `path` canonicalized, when it is a file inside one of `allowed_dirs` (canonicalized too).
fn allowed_path(path: &Path, allowed_dirs: &[PathBuf]) -> Result<PathBuf> {
    if allowed_dirs.is_empty() {
        return Err(Error::invalid(format!(
            "The driver plugin '{}' is refused: no plugin directory is configured; plugins load only from \
             configured directories.",
            path.display()
        )));
    }
    let canonical = std::fs::canonicalize(path).map_err(|e| {
        Error::invalid(format!(
            "The driver plugin '{}' cannot be found: {e}.",
            path.display()
        ))
    })?;
    if !canonical.is_file() {
        return Err(Error::invalid(format!(
            "The driver plugin '{}' is not a file.",
            path.display()
        )));
    }
    let inside = allowed_dirs
        .iter()
        .any(|dir| std::fs::canonicalize(dir).is_ok_and(|dir| canonical.starts_with(dir)));
    if inside {
        Ok(canonical)
    } else {
        let dirs: Vec<String> = allowed_dirs.iter().map(|d| d.display().to_string()).collect();
        Err(Error::invalid(format!(
            "The driver plugin '{}' (resolved to '{}') is outside the configured plugin directories ({}); \
             move it into one of them or configure its directory.",
            path.display(),
            canonical.display(),
            dirs.join(", ")
        )))
    }
}

/// Calls the entry function on a thread of its own, so a plugin that hangs in it fails the load instead of
/// hanging the host; returns the table pointer as an address.
fn call_entry(entry: EntryFnV1, path: &Path) -> Result<usize> {
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("vamp-plugin-load".to_string())
        .spawn(move || {
            let table = entry();
            let _ = sender.send(table as usize);
        })
        .map_err(|e| Error::unavailable(format!("No thread could be started to load a plugin: {e}.")))?;
    receiver.recv_timeout(DEFAULT_CALL_TIMEOUT).map_err(|_| {
        Error::invalid(format!(
            "The driver plugin '{}' did not return its table within {DEFAULT_CALL_TIMEOUT:?}.",
            path.display()
        ))
    })
}

/// Checks the table at `address` and copies it.
///
/// # Safety
///
/// `address`, when not null and aligned, must point to at least a [`TableHeader`], and to as many readable bytes
/// as the header's `size` says, for the life of the process.
unsafe fn read_table(address: usize) -> std::result::Result<PluginTableV1, String> {
    let pointer = address as *const PluginTableV1;
    if pointer.is_null() {
        return Err("its entry function returned no table".to_string());
    }
    if address % std::mem::align_of::<PluginTableV1>() != 0 {
        return Err("its table is not aligned".to_string());
    }
    // SAFETY: non-null and aligned (checked above); the header is the table's prefix in every version, which
    // the caller guarantees is readable.
    let header = unsafe { (pointer as *const TableHeader).read() };
    if header.abi_version != ABI_VERSION_V1 {
        return Err(format!(
            "its table says ABI version {}, but the symbol 'vamp_driver_plugin_v1' must carry version \
             {ABI_VERSION_V1}",
            header.abi_version
        ));
    }
    if header.size < PluginTableV1::MIN_SIZE {
        return Err(format!(
            "its table is {} bytes, smaller than the {} bytes of ABI version {ABI_VERSION_V1}",
            header.size,
            PluginTableV1::MIN_SIZE
        ));
    }
    // SAFETY: the plugin declares at least `MIN_SIZE` readable bytes (checked above), which is the whole
    // version-1 table; every field is an integer or a nullable function pointer, valid for any bit pattern a
    // C compiler produces for them.
    let table = unsafe { pointer.read() };
    let missing: Vec<&str> = [
        Operation::Info,
        Operation::List,
        Operation::Deploy,
        Operation::Undeploy,
    ]
    .into_iter()
    .filter(|op| op.function(&table).is_none())
    .map(Operation::name)
    .collect();
    if missing.is_empty() {
        Ok(table)
    } else {
        Err(format!("its table has no function for {}", missing.join(", ")))
    }
}

/// Runs `function` with the request on a thread of its own; the request buffer lives until it returns.
fn invoke(
    function: OperationFn,
    request: Vec<u8>,
    id: usize,
    path: &Path,
    operation: Operation,
) -> Result<()> {
    std::thread::Builder::new()
        .name("vamp-plugin-call".to_string())
        .spawn(move || {
            function(request.as_ptr(), request.len(), Some(complete), id as *mut c_void);
            drop(request);
        })
        .map(drop)
        .map_err(|e| {
            Error::unavailable(format!(
                "No thread could be started to call '{}' of the driver plugin '{}': {e}.",
                operation.name(),
                path.display()
            ))
        })
}

/// What a completion delivered: its status and a copy of its payload, or why the payload was not copied.
#[derive(Debug)]
struct Completion {
    status: i32,
    payload: std::result::Result<Vec<u8>, String>,
}

type Registry = HashMap<usize, oneshot::Sender<Completion>>;

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A call waiting for its completion. Its registry entry goes when it is dropped (answered, timed out or
/// cancelled), so a completion arriving afterwards finds nothing.
struct PendingCall {
    id: usize,
    receiver: oneshot::Receiver<Completion>,
    _registration: Registration,
}

/// Removes a call's registry entry when the waiting future goes away.
struct Registration(usize);

impl PendingCall {
    fn register() -> PendingCall {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        registry().insert(id, sender);
        PendingCall {
            id,
            receiver,
            _registration: Registration(id),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        registry().remove(&self.0);
    }
}

/// The completion callback the host gives the plugin. Ignores contexts it has no waiting call for (late, repeated
/// or made up); never unwinds into the plugin.
extern "C" fn complete(ctx: *mut c_void, status: i32, ptr: *const u8, len: usize) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let Some(sender) = registry().remove(&(ctx as usize)) else {
            return;
        };
        let payload = if len == 0 {
            Ok(Vec::new())
        } else if ptr.is_null() {
            Err(format!("a payload of {len} bytes at a null pointer"))
        } else if len > MAX_PAYLOAD {
            Err(format!(
                "a payload of {len} bytes, more than the {MAX_PAYLOAD} allowed"
            ))
        } else {
            // SAFETY: the ABI obliges the plugin to pass `len` readable bytes at `ptr` for the duration of
            // this callback; null and oversized payloads are refused above, and the bytes are copied before
            // returning.
            Ok(unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec())
        };
        let _ = sender.send(Completion { status, payload });
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" fn noop(_: *const u8, _: usize, _: Option<super::super::abi::CompletionFn>, _: *mut c_void) {}

    fn table(size: usize, abi_version: u32) -> PluginTableV1 {
        PluginTableV1 {
            size,
            abi_version,
            info: Some(noop),
            list: Some(noop),
            deploy: Some(noop),
            undeploy: Some(noop),
        }
    }

    fn check(table: &PluginTableV1) -> std::result::Result<PluginTableV1, String> {
        // SAFETY: a live table on the stack, readable for its whole size.
        unsafe { read_table(table as *const PluginTableV1 as usize) }
    }

    #[test]
    fn a_complete_version_one_table_is_accepted() {
        assert!(check(&table(PluginTableV1::MIN_SIZE, ABI_VERSION_V1)).is_ok());
    }

    #[test]
    fn a_null_table_is_refused() {
        // SAFETY: null is checked before any read.
        let e = unsafe { read_table(0) }.unwrap_err();
        assert!(e.contains("no table"), "{e}");
    }

    #[test]
    fn another_abi_version_is_refused() {
        let e = check(&table(PluginTableV1::MIN_SIZE, 2)).unwrap_err();
        assert!(e.contains("ABI version 2"), "{e}");
    }

    #[test]
    fn a_table_smaller_than_version_one_is_refused() {
        let e = check(&table(16, ABI_VERSION_V1)).unwrap_err();
        assert!(e.contains("16 bytes"), "{e}");
    }

    #[test]
    fn an_empty_function_slot_is_refused() {
        let mut t = table(PluginTableV1::MIN_SIZE, ABI_VERSION_V1);
        t.deploy = None;
        let e = check(&t).unwrap_err();
        assert!(e.contains("deploy"), "{e}");
    }

    #[test]
    fn a_completion_with_a_context_nobody_issued_is_ignored() {
        let call = PendingCall::register();
        let mut receiver = call.receiver;
        complete((call.id + 1_000_000) as *mut c_void, STATUS_OK, b"x".as_ptr(), 1);
        assert!(receiver.try_recv().is_err());
        assert!(registry().contains_key(&call.id));
    }

    #[test]
    fn a_second_completion_is_ignored() {
        let call = PendingCall::register();
        let mut receiver = call.receiver;
        complete(call.id as *mut c_void, STATUS_OK, b"first".as_ptr(), 5);
        complete(call.id as *mut c_void, STATUS_OK, b"second".as_ptr(), 6);
        let completion = receiver.try_recv().unwrap();
        assert_eq!(completion.payload.unwrap(), b"first");
    }

    #[test]
    fn a_null_payload_with_a_length_is_garbage() {
        let call = PendingCall::register();
        let mut receiver = call.receiver;
        complete(call.id as *mut c_void, STATUS_OK, std::ptr::null(), 5);
        assert!(receiver.try_recv().unwrap().payload.is_err());
    }

    #[test]
    fn a_dropped_call_leaves_the_registry() {
        let call = PendingCall::register();
        let id = call.id;
        drop(call);
        assert!(!registry().contains_key(&id));
    }
}
