//! `vamp completions bash|zsh|fish`: scripts generated from the command table; the bash script is loaded into a
//! real bash and asked for completions.

mod cli_support;

use std::process::Command;

use cli_support::{code, run_vamp, stdout};

const SUBCOMMANDS: &[&str] = &[
    "serve",
    "list",
    "describe",
    "create",
    "update",
    "delete",
    "deploy",
    "merge",
    "undeploy",
    "generate",
    "emit",
    "update-gateway",
    "info",
    "version",
    "completions",
];

fn script(shell: &str) -> String {
    let out = run_vamp(&["completions", shell], None, &[]);
    assert_eq!(code(&out), 0);
    stdout(&out)
}

#[test]
fn every_shell_gets_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let text = script(shell);
        for sub in SUBCOMMANDS {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
        let (wait, data_dir) = if shell == "fish" {
            ("-l wait", "-l data-dir")
        } else {
            ("--wait", "--data-dir")
        };
        assert!(
            text.contains(wait) && text.contains(data_dir),
            "{shell}: flags missing"
        );
    }
    assert_eq!(code(&run_vamp(&["completions", "powershell"], None, &[])), 2);
}

fn complete_in_bash(words: &str) -> String {
    let script = script("bash");
    let program = format!(
        "{script}\nCOMP_WORDS=({words})\nCOMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n_vamp\necho \"${{COMPREPLY[@]}}\"\n"
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn bash_completes_commands_kinds_flags_and_formats() {
    assert_eq!(complete_in_bash("vamp li"), "list");
    assert_eq!(complete_in_bash("vamp list dep"), "deployments");
    assert_eq!(complete_in_bash("vamp deploy --wa"), "--wait");
    assert_eq!(complete_in_bash("vamp list breeds -o y"), "yaml");
    assert_eq!(complete_in_bash("vamp generate bl"), "blueprint");
    assert_eq!(complete_in_bash("vamp serve --ha-e"), "--ha-etcd --ha-election");
}

/// zsh and fish are not installed on the test machine, so their scripts are checked for their shape only.
#[test]
fn zsh_and_fish_scripts_register_themselves() {
    let zsh = script("zsh");
    assert!(zsh.starts_with("#compdef vamp\n"));
    assert!(zsh.contains("compdef _vamp vamp"));
    assert!(zsh.contains("'update-gateway:Change a gateway"), "{zsh}");
    let fish = script("fish");
    assert!(
        fish.contains("complete -c vamp -n __fish_use_subcommand -a deploy -d 'Deploy a stored blueprint")
    );
    assert!(fish.contains("complete -c vamp -n '__fish_seen_subcommand_from list' -a 'deployments gateways"));
}
