//! The API's credentials for `vamp serve` and the CLI: tokens from the configuration, from token files (one
//! token a line, `#` comments), and the admin token `vamp serve` creates in its data directory at first start
//! when none is configured ([`TOKEN_FILE`], mode 0600), which the CLI on the same machine reads. Also the
//! owner-only directories and files the server keeps its state in.

use std::io::Write;
use std::path::{Path, PathBuf};

use vamp_core::{Error, Result};

/// The name of the generated admin token's file in the data directory.
pub const TOKEN_FILE: &str = "api-token";

/// The tokens of the file at `path`: one a line, blank lines and lines starting with `#` left out. Fails with
/// `Invalid` naming the file when it cannot be read or holds no token.
pub fn read_token_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::invalid(format!("The token file {} cannot be read: {e}", path.display())).with_source(e)
    })?;
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if tokens.is_empty() {
        return Err(Error::invalid(format!(
            "The token file {} holds no token.",
            path.display()
        )));
    }
    Ok(tokens)
}

/// The admin token kept in `data_dir`: read from [`TOKEN_FILE`] when it exists, else created (256 random bits,
/// hex) in a new file only the owner can read. Returns the token, its file and whether it was created now.
pub fn data_dir_token(data_dir: &Path) -> Result<(String, PathBuf, bool)> {
    let path = data_dir.join(TOKEN_FILE);
    if path.exists() {
        let token = read_token_file(&path)?.remove(0);
        return Ok((token, path, false));
    }
    let token = random_token()?;
    write_private(&path, format!("{token}\n").as_bytes())?;
    Ok((token, path, true))
}

/// 256 random bits from the operating system's generator, as 64 hex digits.
pub fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    let provider = tokio_rustls::rustls::crypto::ring::default_provider();
    provider
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| Error::backend("The system's random number generator failed."))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `contents` to a new file at `path` that only its owner may read and write (0600). Fails when the file
/// exists.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        Error::backend(format!("The file {} cannot be created: {e}", path.display())).with_source(e)
    })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            Error::backend(format!("The file {} cannot be written: {e}", path.display())).with_source(e)
        })
}

/// Creates `dir` (and its parents) if missing, and makes it owner-only (0700): what the server keeps there —
/// its database, its token, its agent's files — is for no other user of the machine.
pub fn private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::backend(format!("The directory {} cannot be created: {e}", dir.display())).with_source(e)
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            Error::backend(format!(
                "The directory {} cannot be made private (0700): {e}",
                dir.display()
            ))
            .with_source(e)
        })?;
    }
    Ok(())
}

/// Makes the existing file at `path` owner-only (0600); a missing file is left alone.
pub fn private_file(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::backend(format!(
                    "The file {} cannot be made private (0600): {e}",
                    path.display()
                ))
                .with_source(e))
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_data_dir_token_is_created_once_and_private() {
        let dir = std::env::temp_dir().join(format!("vamp-token-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        private_dir(&dir).unwrap();
        let (token, path, created) = data_dir_token(&dir).unwrap();
        assert!(created);
        assert_eq!(token.len(), 64);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
        let (again, _, created_again) = data_dir_token(&dir).unwrap();
        assert_eq!(again, token);
        assert!(!created_again);
        #[cfg(unix)]
        {
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }
        assert_ne!(random_token().unwrap(), token);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn token_files_skip_comments_and_refuse_empty_ones() {
        let dir = std::env::temp_dir().join(format!("vamp-token-file-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tokens");
        std::fs::write(&file, "# admins\n\n  one  \ntwo\n").unwrap();
        assert_eq!(read_token_file(&file).unwrap(), vec!["one", "two"]);
        std::fs::write(&file, "# nothing\n").unwrap();
        assert!(read_token_file(&file)
            .unwrap_err()
            .message()
            .contains("holds no token"));
        assert!(read_token_file(&dir.join("missing"))
            .unwrap_err()
            .message()
            .contains("cannot be read"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
