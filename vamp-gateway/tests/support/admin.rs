//! A minimal client of HAProxy's admin (runtime API) socket: one command per connection, and an atomic map
//! replacement (`prepare map` / `add map @v` / `commit map @v`).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Sends one command and returns the whole answer. The write side is shut down after the command, as HAProxy
/// expects, so the answer ends at EOF.
pub fn command(socket: &Path, command: &str) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(command.as_bytes())?;
    stream.write_all(b"\n")?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// Replaces the whole content of the map loaded from `map_file` atomically with `content` (`key value` lines).
pub fn replace_map(socket: &Path, map_file: &Path, content: &str) -> Result<(), String> {
    let file = map_file.display();
    let prepared = command(socket, &format!("prepare map {file}")).map_err(|e| e.to_string())?;
    let version = prepared
        .trim()
        .strip_prefix("New version created: ")
        .ok_or_else(|| format!("prepare map answered '{prepared}'"))?
        .to_string();
    for line in content.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once(' ')
            .ok_or_else(|| format!("bad map line '{line}'"))?;
        let answer = command(socket, &format!("add map @{version} {file} {key} {value}"))
            .map_err(|e| e.to_string())?;
        if !answer.trim().is_empty() {
            return Err(format!("add map answered '{answer}'"));
        }
    }
    let answer = command(socket, &format!("commit map @{version} {file}")).map_err(|e| e.to_string())?;
    if !answer.trim().is_empty() {
        return Err(format!("commit map answered '{answer}'"));
    }
    Ok(())
}
