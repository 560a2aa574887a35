//! The HAProxy runtime API (the admin `stats socket`): commands sent over one Unix-socket connection in
//! interactive (`prompt`) mode, so a batch of thousands of commands costs one connection and one round trip,
//! with each reply checked against what success looks like for that command.
//!
//! HAProxy answers most successful commands with nothing and failures with a sentence ("No such server."), so
//! every [`Command`] says which replies mean success ([`Expect`]); anything else is an error that names the
//! command and quotes the reply.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use vamp_core::{Error, Result};

/// What a successful reply looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// An empty reply.
    Nothing,
    /// A reply that starts with one of these texts.
    StartsWith(&'static [&'static str]),
    /// Any reply: the caller reads it.
    Anything,
}

/// One runtime API command and what its success looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The command line, without newline.
    pub text: String,
    /// The replies that mean success.
    pub expect: Expect,
}

impl Command {
    fn new(text: String, expect: Expect) -> Command {
        Command { text, expect }
    }

    /// `set server <backend>/<server> weight <weight>`.
    pub fn set_weight(backend: &str, server: &str, weight: &str) -> Command {
        Command::new(
            format!("set server {backend}/{server} weight {weight}"),
            Expect::Nothing,
        )
    }

    /// `set server <backend>/<server> addr <ip> port <port>`.
    pub fn set_address(backend: &str, server: &str, ip: &str, port: u16) -> Command {
        Command::new(
            format!("set server {backend}/{server} addr {ip} port {port}"),
            Expect::StartsWith(&["IP changed", "no need to change", "Port changed"]),
        )
    }

    /// `set server <backend>/<server> state ready|maint`.
    pub fn set_state(backend: &str, server: &str, ready: bool) -> Command {
        let state = if ready { "ready" } else { "maint" };
        Command::new(
            format!("set server {backend}/{server} state {state}"),
            Expect::Nothing,
        )
    }

    /// `add server <backend>/<server> <spec>`: the server starts in maintenance.
    pub fn add_server(backend: &str, server: &str, spec: &str) -> Command {
        Command::new(
            format!("add server {backend}/{server} {spec}"),
            Expect::StartsWith(&["New server registered."]),
        )
    }

    /// `enable health <backend>/<server>`.
    pub fn enable_health(backend: &str, server: &str) -> Command {
        Command::new(format!("enable health {backend}/{server}"), Expect::Nothing)
    }

    /// `enable server <backend>/<server>`.
    pub fn enable_server(backend: &str, server: &str) -> Command {
        Command::new(format!("enable server {backend}/{server}"), Expect::Nothing)
    }

    /// `del server <backend>/<server>`; its reply is read by [`deletion_outcome`].
    pub fn delete_server(backend: &str, server: &str) -> Command {
        Command::new(format!("del server {backend}/{server}"), Expect::Anything)
    }

    /// `prepare map <path>`; its reply carries the new version ([`prepared_version`]).
    pub fn prepare_map(path: &Path) -> Command {
        Command::new(
            format!("prepare map {}", path.display()),
            Expect::StartsWith(&["New version created: "]),
        )
    }

    /// `add map @<version> <path> <key> <value>`.
    pub fn add_map_entry(version: u64, path: &Path, key: &str, value: &str) -> Command {
        Command::new(
            format!("add map @{version} {} {key} {value}", path.display()),
            Expect::Nothing,
        )
    }

    /// `commit map @<version> <path>`: the prepared version replaces the current one atomically.
    pub fn commit_map(version: u64, path: &Path) -> Command {
        Command::new(
            format!("commit map @{version} {}", path.display()),
            Expect::Nothing,
        )
    }

    fn accepts(&self, reply: &str) -> bool {
        match self.expect {
            Expect::Nothing => reply.is_empty(),
            Expect::StartsWith(prefixes) => prefixes.iter().any(|p| reply.starts_with(p)),
            Expect::Anything => true,
        }
    }
}

/// The version `prepare map` created, from its reply (`New version created: 3`).
pub fn prepared_version(reply: &str) -> Result<u64> {
    reply
        .strip_prefix("New version created: ")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            Error::backend(format!(
                "HAProxy's reply to 'prepare map' carries no version: '{reply}'."
            ))
        })
}

/// What a `del server` reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// The server is gone (also when it was already gone).
    Deleted,
    /// The server still has connections (or queued requests); it stays in maintenance, to delete later.
    Busy,
    /// Another refusal.
    Refused,
}

/// Reads a `del server` reply.
pub fn deletion_outcome(reply: &str) -> Deletion {
    if reply.starts_with("Server deleted") || reply.starts_with("No such server") {
        Deletion::Deleted
    } else if reply.contains("connections") || reply.contains("queue") {
        Deletion::Busy
    } else {
        Deletion::Refused
    }
}

/// A client of one HAProxy admin socket.
#[derive(Debug, Clone)]
pub struct RuntimeApi {
    socket: PathBuf,
    timeout: Duration,
}

impl RuntimeApi {
    /// A client of the admin socket at `socket`; every batch must finish within `timeout`.
    pub fn new(socket: impl Into<PathBuf>, timeout: Duration) -> RuntimeApi {
        RuntimeApi {
            socket: socket.into(),
            timeout,
        }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends `commands` over one connection, in order, and returns one reply per command (trimmed), whatever
    /// it says. A command holding a line break or `;` is refused with `Invalid` before anything is sent (the
    /// applier then reloads instead). Fails with `Unavailable` when the socket does not answer (or not within the timeout), and with
    /// `Backend` when the conversation breaks off before every command was answered.
    pub async fn send(&self, commands: &[String]) -> Result<Vec<String>> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(bad) = commands.iter().find(|c| c.contains(['\n', '\r', ';'])) {
            return Err(Error::invalid(format!(
                "A runtime API command cannot span lines or hold ';' (HAProxy would run the rest as another \
                 command): '{}'.",
                bad.escape_debug()
            )));
        }
        let exchange = async {
            let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
                Error::unavailable(format!(
                    "Cannot reach HAProxy's runtime API at {}: {e}.",
                    self.socket.display()
                ))
            })?;
            let (mut reader, mut writer) = stream.into_split();
            let mut script = String::with_capacity(commands.iter().map(|c| c.len() + 1).sum::<usize>() + 12);
            script.push_str("prompt\n");
            for command in commands {
                script.push_str(command);
                script.push('\n');
            }
            script.push_str("quit\n");
            let write = async move {
                writer.write_all(script.as_bytes()).await?;
                writer.shutdown().await
            };
            let mut out = Vec::new();
            let (written, read) = tokio::join!(write, reader.read_to_end(&mut out));
            written
                .and(read)
                .map_err(|e| Error::backend(format!("The runtime API conversation broke off: {e}.")))?;
            Ok::<_, Error>(String::from_utf8_lossy(&out).into_owned())
        };
        let text = tokio::time::timeout(self.timeout, exchange).await.map_err(|_| {
            Error::unavailable(format!(
                "HAProxy's runtime API at {} did not answer {} command(s) within {:?}.",
                self.socket.display(),
                commands.len(),
                self.timeout
            ))
        })??;
        let replies = split_replies(&text);
        if replies.len() < commands.len() {
            return Err(Error::backend(format!(
                "HAProxy's runtime API answered {} of {} commands.",
                replies.len(),
                commands.len()
            )));
        }
        Ok(replies.into_iter().take(commands.len()).collect())
    }

    /// Sends `commands` (see [`RuntimeApi::send`]) and checks every reply; fails with `Backend` naming the
    /// first command whose reply is not a success, after all were sent. Returns the replies.
    pub async fn run(&self, commands: &[Command]) -> Result<Vec<String>> {
        let texts: Vec<String> = commands.iter().map(|c| c.text.clone()).collect();
        let replies = self.send(&texts).await?;
        if let Some((command, reply)) = commands
            .iter()
            .zip(&replies)
            .find(|(command, reply)| !command.accepts(reply))
        {
            return Err(Error::backend(format!(
                "HAProxy refused '{}': {}",
                command.text,
                if reply.is_empty() { "(no reply)" } else { reply }
            )));
        }
        Ok(replies)
    }

    /// Runs one command and returns its reply.
    pub async fn run_one(&self, command: Command) -> Result<String> {
        let mut replies = self.run(std::slice::from_ref(&command)).await?;
        Ok(replies.pop().unwrap_or_default())
    }

    /// `set server <backend>/<server> weight <weight>`.
    pub async fn set_weight(&self, backend: &str, server: &str, weight: u32) -> Result<()> {
        self.run_one(Command::set_weight(backend, server, &weight.to_string()))
            .await
            .map(drop)
    }

    /// `get weight <backend>/<server>`: the current weight.
    pub async fn weight(&self, backend: &str, server: &str) -> Result<u32> {
        let reply = self
            .run_one(Command::new(
                format!("get weight {backend}/{server}"),
                Expect::Anything,
            ))
            .await?;
        reply
            .split(' ')
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| Error::backend(format!("HAProxy's weight of {backend}/{server}: '{reply}'.")))
    }

    /// Replaces the entries of the loaded map `path` atomically (prepare, add, commit).
    pub async fn replace_map(&self, path: &Path, entries: &[(String, String)]) -> Result<()> {
        let version = prepared_version(&self.run_one(Command::prepare_map(path)).await?)?;
        let mut commands: Vec<Command> = entries
            .iter()
            .map(|(k, v)| Command::add_map_entry(version, path, k, v))
            .collect();
        commands.push(Command::commit_map(version, path));
        self.run(&commands).await.map(drop)
    }
}

/// Splits the output of a `prompt` session into one reply per command: every reply is followed by the prompt
/// `"\n> "`; the text before the first prompt answers `prompt` itself, and the text after the last one is not
/// followed by a prompt (nothing after `quit`, or a reply cut off): both are dropped.
fn split_replies(text: &str) -> Vec<String> {
    let mut parts = text.split("\n> ");
    parts.next();
    let mut replies: Vec<String> = parts.map(|p| p.trim().to_string()).collect();
    replies.pop();
    replies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commands_with_a_semicolon_or_line_break_are_refused_before_sending() {
        let api = RuntimeApi::new(PathBuf::from("/nonexistent/haproxy.sock"), Duration::from_secs(1));
        for bad in [
            "add map m k v;shutdown sessions",
            "set server b/s weight 1\nshow info",
        ] {
            let e = api.send(&[bad.to_string()]).await.unwrap_err();
            assert_eq!(e.kind(), vamp_core::ErrorKind::Invalid, "{bad}: {e}");
        }
        let e = api.send(&["show info".to_string()]).await.unwrap_err();
        assert!(e.is_retryable(), "an unreachable socket is Unavailable: {e}");
    }

    #[test]
    fn replies_are_split_on_the_prompt() {
        let text = "\n> New version created: 1\n\n> \n> No such server.\n\n> ";
        assert_eq!(
            split_replies(text),
            vec!["New version created: 1", "", "No such server."]
        );
    }

    #[test]
    fn a_reply_cut_off_before_its_prompt_is_not_counted() {
        assert_eq!(split_replies("\n> \n> Server del"), vec![""]);
    }

    #[test]
    fn success_depends_on_the_command() {
        assert!(Command::set_weight("b", "s", "10").accepts(""));
        assert!(!Command::set_weight("b", "s", "10").accepts("No such server."));
        assert!(Command::add_server("b", "s", "1.2.3.4:80").accepts("New server registered."));
        assert!(!Command::add_server("b", "s", "1.2.3.4:80").accepts(""));
        assert!(Command::set_address("b", "s", "1.2.3.4", 80)
            .accepts("IP changed from '127.0.0.1' to '1.2.3.4', no need to change the port"));
    }

    #[test]
    fn prepared_versions_are_read_from_the_reply() {
        assert_eq!(prepared_version("New version created: 12").unwrap(), 12);
        assert!(prepared_version("Unknown map identifier.").is_err());
    }

    #[test]
    fn deletions_refused_for_connections_are_busy() {
        assert_eq!(deletion_outcome("Server deleted."), Deletion::Deleted);
        assert_eq!(
            deletion_outcome("Server still has connections attached to it, cannot remove it."),
            Deletion::Busy
        );
        assert_eq!(
            deletion_outcome("Only servers in maintenance mode can be deleted."),
            Deletion::Refused
        );
    }
}
