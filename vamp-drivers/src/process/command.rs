//! Command lines of `process` deployables: split into words the way a POSIX shell quotes them, without a shell
//! (no expansion, no pipes, nothing a variable's value could inject), and the executable looked up.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Splits `line` into words: white space separates them; `'…'` is literal; `"…"` is literal except that `\`
/// escapes `"`, `\`, `$` and `` ` ``; outside quotes `\` escapes the next character. `''` is an empty word.
///
/// Refuses, with a sentence saying why, an empty line, an unclosed quote, a trailing `\`, and unquoted shell
/// operators (`|`, `&`, `;`, `<`, `>`, `` ` ``, `$(`), which would otherwise be passed on as plain arguments to
/// the surprise of whoever wrote them: no shell runs the line, so a pipeline has to be written as
/// `sh -c '…'`.
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err("has a ' that is never closed.".to_string()),
                    }
                }
            }
            '"' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => current.push(e),
                            Some(other) => {
                                current.push('\\');
                                current.push(other);
                            }
                            None => return Err("has a \" that is never closed.".to_string()),
                        },
                        Some(c) => current.push(c),
                        None => return Err("has a \" that is never closed.".to_string()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(escaped) => word.get_or_insert_with(String::new).push(escaped),
                None => return Err("ends with a lone \\.".to_string()),
            },
            '|' | '&' | ';' | '<' | '>' | '`' => {
                return Err(format!(
                    "uses the shell operator '{c}' outside quotes; no shell runs the command, so write \
                     sh -c '…' to use one, or quote the character."
                ));
            }
            '$' if chars.peek() == Some(&'(') => {
                return Err(
                    "uses '$(' outside quotes; no shell runs the command, so write sh -c '…' to use one."
                        .to_string(),
                );
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(done) = word {
        words.push(done);
    }
    if words.first().is_none_or(|w| w.is_empty()) {
        return Err("names no executable; give a command line like './server --port 8080'.".to_string());
    }
    Ok(words)
}

/// Finds the executable `program` names. A path with a `/` is taken as is when absolute, else looked up in
/// `working_dir` and then in each of `search_path`; a bare name is looked up in each of `search_path` and then
/// in each directory of `system_path` (the driver's `PATH`). The first regular file with an execute bit wins.
pub fn resolve_program(
    program: &str,
    working_dir: &Path,
    search_path: &[PathBuf],
    system_path: Option<&std::ffi::OsStr>,
) -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = if program.contains('/') {
        let path = Path::new(program);
        if path.is_absolute() {
            vec![path.to_path_buf()]
        } else {
            std::iter::once(working_dir)
                .chain(search_path.iter().map(PathBuf::as_path))
                .map(|dir| dir.join(path))
                .collect()
        }
    } else {
        search_path
            .iter()
            .cloned()
            .chain(system_path.map(std::env::split_paths).into_iter().flatten())
            .map(|dir| dir.join(program))
            .collect()
    };
    candidates.into_iter().find(|c| is_executable(c)).ok_or_else(|| {
        if program.contains('/') && !Path::new(program).is_absolute() {
            format!(
                "runs '{program}', which is not an executable file in the working directory {} nor in the \
                 search path; build or install it, or configure the process driver's working_dir or \
                 search_path.",
                working_dir.display()
            )
        } else if program.contains('/') {
            format!("runs '{program}', which is not an executable file.")
        } else {
            format!(
                "runs '{program}', which is found neither in the process driver's search path nor on PATH; \
                 install it or add its directory to the search path."
            )
        }
    })
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        match split_command_line(line) {
            Ok(words) => words,
            Err(e) => panic!("{line}: {e}"),
        }
    }

    #[test]
    fn white_space_separates_words() {
        assert_eq!(
            words("  ./vamp-demo-service   --name\tfrontend-1.0 "),
            ["./vamp-demo-service", "--name", "frontend-1.0"]
        );
    }

    #[test]
    fn quotes_group_words_and_keep_their_content() {
        assert_eq!(
            words(r#"sh -c 'trap "" TERM; sleep 1000'"#),
            ["sh", "-c", r#"trap "" TERM; sleep 1000"#]
        );
        assert_eq!(
            words(r#"echo "a \"b\" \$HOME \n""#),
            ["echo", r#"a "b" $HOME \n"#]
        );
        assert_eq!(words("echo a'b'\"c\"d"), ["echo", "abcd"]);
        assert_eq!(words("echo '' x"), ["echo", "", "x"]);
        assert_eq!(words(r"echo a\ b"), ["echo", "a b"]);
    }

    #[test]
    fn variables_are_not_expanded() {
        assert_eq!(words("echo $HOME"), ["echo", "$HOME"]);
    }

    #[test]
    fn unclosed_quotes_and_trailing_backslashes_are_refused() {
        assert!(split_command_line("echo 'a")
            .unwrap_err()
            .contains("never closed"));
        assert!(split_command_line("echo \"a")
            .unwrap_err()
            .contains("never closed"));
        assert!(split_command_line("echo a\\").unwrap_err().contains("lone"));
    }

    #[test]
    fn shell_operators_outside_quotes_are_refused() {
        for line in ["a | b", "a && b", "a; b", "a > f", "a `b`", "a $(b)"] {
            let e = split_command_line(line).unwrap_err();
            assert!(e.contains("sh -c"), "{line}: {e}");
        }
        assert_eq!(words("echo 'a | b'"), ["echo", "a | b"]);
    }

    #[test]
    fn an_empty_line_names_no_executable() {
        assert!(split_command_line("   ").unwrap_err().contains("no executable"));
        assert!(split_command_line("'' x").unwrap_err().contains("no executable"));
    }

    #[test]
    fn bare_names_are_found_on_path() {
        let path = std::env::var_os("PATH");
        let sh = resolve_program("sh", Path::new("/nonexistent"), &[], path.as_deref()).unwrap();
        assert!(sh.ends_with("sh"), "{}", sh.display());
        assert!(
            resolve_program("no-such-program-vamp", Path::new("/"), &[], path.as_deref())
                .unwrap_err()
                .contains("search path")
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_working_dir_then_the_search_path() {
        let bin = Path::new("/bin");
        let found = resolve_program("./sh", bin, &[], None).unwrap();
        assert_eq!(found, bin.join("./sh"));
        let found = resolve_program("./sh", Path::new("/nonexistent"), &[bin.to_path_buf()], None).unwrap();
        assert_eq!(found, bin.join("./sh"));
        assert!(resolve_program("./sh", Path::new("/nonexistent"), &[], None)
            .unwrap_err()
            .contains("working directory"));
    }

    #[test]
    fn files_without_an_execute_bit_are_not_executables() {
        let dir = std::env::temp_dir().join(format!("vamp-exec-bit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain");
        std::fs::write(&file, b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(resolve_program("./plain", &dir, &[], None).is_err());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            resolve_program("./plain", &dir, &[], None).unwrap(),
            dir.join("./plain")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
