//! `vamp completions bash|zsh|fish`: completion scripts generated from the command table
//! ([`super::commands::command`]): subcommands, their flags, and the values of kinds, formats and shells.

use clap::{Arg, Command};

use super::commands::{command, FORMATS, GENERATE_KINDS, KINDS, SHELLS};
use super::exit::{CliError, CliResult};

/// The completion script for `shell`.
pub fn script(shell: &str) -> CliResult<String> {
    let root = command();
    match shell {
        "bash" => Ok(bash(&root)),
        "zsh" => Ok(zsh(&root)),
        "fish" => Ok(fish(&root)),
        other => Err(CliError::usage(format!(
            "No completions for '{other}'; use one of {}",
            SHELLS.join(", ")
        ))),
    }
}

/// The values the first positional argument of `sub` takes.
fn positional_values(sub: &str) -> &'static [&'static str] {
    match sub {
        "list" | "describe" | "inspect" | "create" | "update" | "delete" | "remove" => KINDS,
        "generate" => GENERATE_KINDS,
        "completions" => SHELLS,
        _ => &[],
    }
}

fn flags(cmd: &Command) -> Vec<String> {
    cmd.get_arguments()
        .filter(|a| !a.is_positional())
        .flat_map(|a| {
            let mut v = Vec::new();
            if let Some(l) = a.get_long() {
                v.push(format!("--{l}"));
            }
            if let Some(s) = a.get_short() {
                v.push(format!("-{s}"));
            }
            v
        })
        .chain(["--help".to_string()])
        .collect()
}

fn globals(root: &Command) -> Vec<&Arg> {
    root.get_arguments().filter(|a| a.is_global_set()).collect()
}

fn about(cmd: &Command) -> String {
    cmd.get_about()
        .map(|a| a.to_string())
        .unwrap_or_default()
        .replace('\'', "")
}

fn bash(root: &Command) -> String {
    let subs: Vec<&Command> = root.get_subcommands().collect();
    let names: Vec<String> = subs
        .iter()
        .flat_map(|s| {
            std::iter::once(s.get_name().to_string()).chain(s.get_visible_aliases().map(str::to_string))
        })
        .collect();
    let global_flags = flags(root).join(" ");
    let mut cases = String::new();
    for sub in &subs {
        let mut pattern = vec![sub.get_name().to_string()];
        pattern.extend(sub.get_visible_aliases().map(str::to_string));
        cases.push_str(&format!(
            "        {})\n            if [[ \"$cur\" == -* ]]; then\n                COMPREPLY=($(compgen -W \"{} {global_flags}\" -- \"$cur\"))\n            else\n                COMPREPLY=($(compgen -W \"{}\" -- \"$cur\"))\n            fi\n            ;;\n",
            pattern.join("|"),
            flags(sub).join(" "),
            positional_values(sub.get_name()).join(" "),
        ));
    }
    format!(
        r#"# bash completion for vamp; load with: source <(vamp completions bash)
_vamp() {{
    local cur prev cmd w
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    cmd=""
    for w in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        case "$w" in
            -*) ;;
            *) cmd="$w"; break ;;
        esac
    done
    case "$prev" in
        -o|--output) COMPREPLY=($(compgen -W "{formats}" -- "$cur")); return ;;
        -f|--file|-c|--config|--data-dir|--tls-cert|--tls-key|--haproxy) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    case "$cmd" in
        "")
            COMPREPLY=($(compgen -W "{names} {global_flags}" -- "$cur"))
            ;;
{cases}    esac
}}
complete -F _vamp vamp
"#,
        formats = FORMATS.join(" "),
        names = names.join(" "),
    )
}

fn zsh(root: &Command) -> String {
    let subs: Vec<&Command> = root.get_subcommands().collect();
    let described: Vec<String> = subs
        .iter()
        .map(|s| format!("        '{}:{}'", s.get_name(), about(s).replace(':', "\\:")))
        .collect();
    let global_flags = flags(root).join(" ");
    let mut cases = String::new();
    for sub in &subs {
        let mut pattern = vec![sub.get_name().to_string()];
        pattern.extend(sub.get_visible_aliases().map(str::to_string));
        cases.push_str(&format!(
            "        {})\n            if [[ $PREFIX == -* ]]; then\n                compadd -- {} {global_flags}\n            else\n                compadd -- {}\n            fi\n            ;;\n",
            pattern.join("|"),
            flags(sub).join(" "),
            positional_values(sub.get_name()).join(" "),
        ));
    }
    format!(
        r#"#compdef vamp
# zsh completion for vamp; load with: source <(vamp completions zsh)
_vamp() {{
    local -a commands
    commands=(
{described}
    )
    if (( CURRENT == 2 )); then
        if [[ $PREFIX == -* ]]; then
            compadd -- {global_flags}
        else
            _describe 'command' commands
        fi
        return
    fi
    case ${{words[CURRENT-1]}} in
        -o|--output) compadd -- {formats}; return ;;
        -f|--file|-c|--config|--data-dir|--tls-cert|--tls-key|--haproxy) _files; return ;;
    esac
    case ${{words[2]}} in
{cases}    esac
}}
if (( $+functions[compdef] )); then
    compdef _vamp vamp
fi
"#,
        described = described.join("\n"),
        formats = FORMATS.join(" "),
    )
}

fn fish(root: &Command) -> String {
    let mut out = String::from(
        "# fish completion for vamp; load with: vamp completions fish | source\ncomplete -c vamp -f\n",
    );
    for a in globals(root) {
        if let Some(l) = a.get_long() {
            let help = a
                .get_help()
                .map(|h| h.to_string())
                .unwrap_or_default()
                .replace('\'', "");
            let values = if l == "output" {
                format!(" -xa '{}'", FORMATS.join(" "))
            } else {
                " -r".to_string()
            };
            out.push_str(&format!("complete -c vamp -l {l}{values} -d '{help}'\n"));
        }
    }
    for sub in root.get_subcommands() {
        let name = sub.get_name();
        out.push_str(&format!(
            "complete -c vamp -n __fish_use_subcommand -a {name} -d '{}'\n",
            about(sub)
        ));
        let values = positional_values(name);
        if !values.is_empty() {
            out.push_str(&format!(
                "complete -c vamp -n '__fish_seen_subcommand_from {name}' -a '{}'\n",
                values.join(" ")
            ));
        }
        for a in sub
            .get_arguments()
            .filter(|a| !a.is_positional() && !a.is_global_set())
        {
            let Some(l) = a.get_long() else { continue };
            let help = a
                .get_help()
                .map(|h| h.to_string())
                .unwrap_or_default()
                .replace('\'', "");
            let short = a.get_short().map(|s| format!(" -s {s}")).unwrap_or_default();
            let takes = if a.get_action().takes_values() {
                if matches!(
                    l,
                    "file" | "config" | "data-dir" | "tls-cert" | "tls-key" | "haproxy"
                ) {
                    " -F -r"
                } else {
                    " -r"
                }
            } else {
                ""
            };
            out.push_str(&format!(
                "complete -c vamp -n '__fish_seen_subcommand_from {name}' -l {l}{short}{takes} -d '{help}'\n"
            ));
        }
    }
    out
}
