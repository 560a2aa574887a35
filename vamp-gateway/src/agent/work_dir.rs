//! The agent's work directory is private: it holds HAProxy's configuration, its admin sockets and the access-log
//! socket, and whoever may write into it could replace them. It is created with mode 0700; an existing one of
//! this user that others may enter is tightened to 0700. A directory of another user, or a shared one (sticky
//! bit, like `/tmp`), is left as it is, with a warning: the sockets in it are still owner-only.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use vamp_core::{Error, Result};

/// The mode of the work directory.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and missing parents) or tightens it as the module says. Fails with `Unavailable` when it
/// cannot be created, with `Invalid` when the path is not a directory.
pub fn prepare(dir: &Path) -> Result<()> {
    let unavailable = |e: std::io::Error| {
        Error::unavailable(format!(
            "The agent's work directory {} cannot be prepared: {e}.",
            dir.display()
        ))
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(unavailable)?;
    }
    let meta = std::fs::metadata(dir).map_err(unavailable)?;
    if !meta.is_dir() {
        return Err(Error::invalid(format!(
            "The agent's work directory {} is not a directory.",
            dir.display()
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let own = meta.uid() == rustix::process::geteuid().as_raw();
    if own && mode & 0o1000 == 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE)).map_err(unavailable)?;
        tracing::info!(dir = %dir.display(), from = format!("{mode:o}"), "the agent's work directory is now 0700");
    } else {
        tracing::warn!(
            dir = %dir.display(),
            mode = format!("{mode:o}"),
            "the agent's work directory is open to other users and not this agent's to tighten; give the agent \
             a private directory"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(dir: &Path) -> u32 {
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_directory_is_private_and_an_open_own_one_is_tightened() {
        let root = std::env::temp_dir().join(vamp_core::testkit::unique("work-dir"));
        let dir = root.join("a/b");
        prepare(&dir).unwrap();
        assert_eq!(mode(&dir), DIR_MODE);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare(&dir).unwrap();
        assert_eq!(mode(&dir), DIR_MODE);
        let file = root.join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(prepare(&file).is_err());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_shared_sticky_directory_is_left_alone() {
        let before = mode(Path::new("/tmp"));
        prepare(Path::new("/tmp")).unwrap();
        assert_eq!(mode(Path::new("/tmp")), before);
    }
}
