//! The C boundary between the host and a driver plugin, ABI version 1: the entry symbol, the function table, the
//! completion callback and the status codes. Only `#[repr(C)]` types and constants live here; what crosses the
//! boundary inside the byte buffers is in [`super::wire`].
//!
//! The contract, which both [`super::host`] and [`super::sdk`] keep and a plugin written in another language must
//! keep too (docs/plugins.md says it at length):
//!
//! - The plugin exports `vamp_driver_plugin_v1` ([`ENTRY_SYMBOL_V1`]), an `extern "C"` function without arguments
//!   that returns a pointer to a [`PluginTableV1`] valid for the life of the process, or null when it cannot
//!   serve. A future incompatible ABI gets a new symbol (`…_v2`); a plugin may export several.
//! - The table starts with its own size in bytes and [`ABI_VERSION_V1`]. It only grows at the end: a newer plugin
//!   hands an older host a larger table, of which the host reads the part it knows; the host refuses a table
//!   smaller than [`PluginTableV1`].
//! - Each operation takes the request bytes, a [`CompletionFn`] and an opaque context, returns at once, and calls
//!   the completion exactly once, from any thread, possibly before it returns. The request bytes are borrowed for
//!   the duration of the call only; the response bytes are borrowed for the duration of the completion only.
//!   Each side frees what it allocated, so no allocator ever crosses the boundary.
//! - No function may unwind into its caller: a panic becomes [`STATUS_PANIC`].

use std::ffi::c_void;

/// The name of the entry symbol of ABI version 1, NUL-terminated as the dynamic loader wants it.
pub const ENTRY_SYMBOL_V1: &[u8] = b"vamp_driver_plugin_v1\0";

/// The value of [`PluginTableV1::abi_version`]: the major version, which is also the entry symbol's suffix.
pub const ABI_VERSION_V1: u32 = 1;

/// The operation succeeded; the payload is the operation's response message (JSON).
pub const STATUS_OK: i32 = 0;
/// The operation failed; the payload is an error message (JSON, [`super::wire::ErrorMessage`]).
pub const STATUS_ERROR: i32 = 1;
/// The plugin panicked; the payload is the panic message as UTF-8 text.
pub const STATUS_PANIC: i32 = 2;

/// Called by the plugin exactly once per operation with the outcome: `status` is one of the `STATUS_*` constants
/// and `ptr`/`len` the payload, which the callee copies before returning (it may be null when `len` is 0).
/// `ctx` is the value the host passed with the operation, returned untouched.
pub type CompletionFn = extern "C" fn(ctx: *mut c_void, status: i32, ptr: *const u8, len: usize);

/// One operation of the table: `request`/`request_len` is the request message (JSON), borrowed until the function
/// returns; `completion` is called exactly once with `ctx`. `None` in a table is refused by the host, so a table
/// written in C may leave a slot NULL only at its own risk of being rejected.
pub type OperationFn =
    extern "C" fn(request: *const u8, request_len: usize, completion: Option<CompletionFn>, ctx: *mut c_void);

/// The entry symbol's type: returns the plugin's table, or null.
pub type EntryFnV1 = extern "C" fn() -> *const PluginTableV1;

/// The first fields of every table version: what the host reads before it knows anything else.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableHeader {
    /// The size of the whole table in bytes, as the plugin built it (`size_of::<PluginTableV1>()` or more).
    pub size: usize,
    /// [`ABI_VERSION_V1`].
    pub abi_version: u32,
}

/// The function table of ABI version 1. Fields are only ever appended; a field added later is read by a host only
/// when the plugin's [`PluginTableV1::size`] covers it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PluginTableV1 {
    /// The size of the table in bytes as the plugin built it.
    pub size: usize,
    /// [`ABI_VERSION_V1`].
    pub abi_version: u32,
    /// `ContainerDriver::info`: request [`super::wire::InfoRequest`], response [`super::wire::InfoResponse`].
    pub info: Option<OperationFn>,
    /// `ContainerDriver::list`: request [`super::wire::ListRequest`], response [`super::wire::ListResponse`].
    pub list: Option<OperationFn>,
    /// `ContainerDriver::deploy`: request [`super::wire::DeployRequest`], response [`super::wire::DoneResponse`].
    pub deploy: Option<OperationFn>,
    /// `ContainerDriver::undeploy`: request [`super::wire::UndeployRequest`], response
    /// [`super::wire::DoneResponse`].
    pub undeploy: Option<OperationFn>,
}

impl PluginTableV1 {
    /// The size a version-1 table has at least: every field above.
    pub const MIN_SIZE: usize = std::mem::size_of::<PluginTableV1>();
}

/// The operations of the table, for messages and dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `info`.
    Info,
    /// `list`.
    List,
    /// `deploy`.
    Deploy,
    /// `undeploy`.
    Undeploy,
}

impl Operation {
    /// The operation's name as in `ContainerDriver`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Info => "info",
            Operation::List => "list",
            Operation::Deploy => "deploy",
            Operation::Undeploy => "undeploy",
        }
    }

    /// The table's function for this operation.
    pub fn function(self, table: &PluginTableV1) -> Option<OperationFn> {
        match self {
            Operation::Info => table.info,
            Operation::List => table.list,
            Operation::Deploy => table.deploy,
            Operation::Undeploy => table.undeploy,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of};

    use super::*;

    #[test]
    fn the_table_starts_with_the_header() {
        assert_eq!(offset_of!(PluginTableV1, size), offset_of!(TableHeader, size));
        assert_eq!(
            offset_of!(PluginTableV1, abi_version),
            offset_of!(TableHeader, abi_version)
        );
        assert!(PluginTableV1::MIN_SIZE > size_of::<TableHeader>());
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn the_layout_on_64_bit_targets_is_the_documented_one() {
        let offsets = [
            offset_of!(PluginTableV1, size),
            offset_of!(PluginTableV1, abi_version),
            offset_of!(PluginTableV1, info),
            offset_of!(PluginTableV1, list),
            offset_of!(PluginTableV1, deploy),
            offset_of!(PluginTableV1, undeploy),
        ];
        assert_eq!(offsets, [0, 8, 16, 24, 32, 40]);
        assert_eq!(PluginTableV1::MIN_SIZE, 48);
    }

    #[test]
    fn empty_function_slots_are_null_pointers() {
        assert_eq!(size_of::<Option<OperationFn>>(), size_of::<*const u8>());
    }
}
