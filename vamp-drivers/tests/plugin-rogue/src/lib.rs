//! A driver plugin that breaks ABI version 1 on purpose, for the host's tests: what the SDK never does, written
//! by hand against [`vamp_drivers::plugin::abi`].
//!
//! `info`, `list` and `undeploy` answer correctly. `deploy` misbehaves as its deployable's definition says:
//! `garbage` answers OK with bytes that are not JSON; `error-garbage` answers an error that is not JSON;
//! `null-payload` answers OK with a length but a null pointer; `unknown-status` answers with status 77;
//! `future-message` answers `{"v":2}`; `twice` answers OK and then an error; `hang` returns without ever
//! answering; `block` never returns from the call at all. Any other definition is deployed fine.
//!
//! The features break the library itself (see Cargo.toml): `wrong-abi-version` puts 99 in the table,
//! `short-table` declares a table of only its header, `missing-entry` exports the entry function under another name.
#![allow(unsafe_code)]

use std::ffi::c_void;

use vamp_drivers::plugin::abi::{CompletionFn, PluginTableV1, ABI_VERSION_V1, STATUS_ERROR, STATUS_OK};

const ABI_VERSION: u32 = if cfg!(feature = "wrong-abi-version") {
    99
} else {
    ABI_VERSION_V1
};

const SIZE: usize = if cfg!(feature = "short-table") {
    std::mem::size_of::<usize>() * 2
} else {
    PluginTableV1::MIN_SIZE
};

static TABLE: PluginTableV1 = PluginTableV1 {
    size: SIZE,
    abi_version: ABI_VERSION,
    info: Some(info),
    list: Some(list),
    deploy: Some(deploy),
    undeploy: Some(undeploy),
};

/// The entry symbol; exported under another name with `missing-entry`.
#[cfg_attr(not(feature = "missing-entry"), unsafe(no_mangle))]
#[cfg_attr(feature = "missing-entry", unsafe(export_name = "not_the_vamp_entry"))]
pub extern "C" fn vamp_driver_plugin_v1() -> *const PluginTableV1 {
    &TABLE
}

fn reply(completion: Option<CompletionFn>, ctx: *mut c_void, status: i32, payload: &[u8]) {
    if let Some(completion) = completion {
        completion(ctx, status, payload.as_ptr(), payload.len());
    }
}

extern "C" fn info(_: *const u8, _: usize, completion: Option<CompletionFn>, ctx: *mut c_void) {
    let response = br#"{"v":1,"info":{"kind":"rogue","version":"0","deployable_types":["rogue"]}}"#;
    reply(completion, ctx, STATUS_OK, response);
}

extern "C" fn list(_: *const u8, _: usize, completion: Option<CompletionFn>, ctx: *mut c_void) {
    reply(completion, ctx, STATUS_OK, br#"{"v":1,"services":[]}"#);
}

extern "C" fn undeploy(_: *const u8, _: usize, completion: Option<CompletionFn>, ctx: *mut c_void) {
    reply(completion, ctx, STATUS_OK, br#"{"v":1}"#);
}

extern "C" fn deploy(request: *const u8, len: usize, completion: Option<CompletionFn>, ctx: *mut c_void) {
    let request = if request.is_null() {
        &[][..]
    } else {
        // SAFETY: the host passes `len` readable bytes at `request` for the duration of this call.
        unsafe { std::slice::from_raw_parts(request, len) }
    };
    let asks = |definition: &str| {
        let needle = format!(r#""definition":"{definition}""#);
        request.windows(needle.len()).any(|w| w == needle.as_bytes())
    };
    if asks("garbage") {
        reply(completion, ctx, STATUS_OK, b"\xff\xfe definitely not JSON");
    } else if asks("error-garbage") {
        reply(completion, ctx, STATUS_ERROR, b"<html>500</html>");
    } else if asks("null-payload") {
        if let Some(completion) = completion {
            completion(ctx, STATUS_OK, std::ptr::null(), 7);
        }
    } else if asks("unknown-status") {
        reply(completion, ctx, 77, br#"{"v":1}"#);
    } else if asks("future-message") {
        reply(completion, ctx, STATUS_OK, br#"{"v":2}"#);
    } else if asks("twice") {
        reply(completion, ctx, STATUS_OK, br#"{"v":1}"#);
        reply(
            completion,
            ctx,
            STATUS_ERROR,
            br#"{"v":1,"kind":"backend","message":"second answer"}"#,
        );
    } else if asks("hang") {
    } else if asks("block") {
        loop {
            std::thread::park();
        }
    } else {
        reply(completion, ctx, STATUS_OK, br#"{"v":1}"#);
    }
}
