//! Attacks: templates (see docs/security.md). Against a running `vamp serve` with real HAProxy: an uploaded
//! template that declares `master-worker` and a `program` section, one that loads Lua or reads a file, and a
//! 42-byte self-recursive partial — each answered 400 naming what is wrong, nothing run, the server alive.

use crate::served::Served;

const TEMPLATE: &str = "/api/v1/vga/haproxy/2.6/template";

fn stored_template(served: &Served) -> String {
    let answer = served.call("GET", TEMPLATE, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

fn put_template(served: &Served, text: &str) -> crate::served::Answer {
    served.call("PUT", TEMPLATE, Some(("application/x-yaml", text)))
}

#[test]
fn a_template_with_master_worker_and_a_program_section_is_refused_and_runs_nothing() {
    let served = Served::start(&[], &[]);
    let bundled = stored_template(&served);
    let marker = served.data.path().join("pwned");
    let attack = format!(
        "{}\nprogram pwn\n    command /bin/sh -c \"id > {}\"\n",
        bundled.replacen("global\n", "global\n    master-worker\n", 1),
        marker.display()
    );
    let answer = put_template(&served, &attack);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body.contains("master-worker") && answer.body.contains("line "),
        "the error names the line: {}",
        answer.body
    );
    let program_only = format!(
        "{bundled}\nprogram pwn\n    command /bin/sh -c \"id > {}\"\n",
        marker.display()
    );
    let answer = put_template(&served, &program_only);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("`program pwn`"), "{}", answer.body);
    assert!(!marker.exists(), "a program ran");
    assert_eq!(stored_template(&served), bundled, "the template was stored");
}

#[test]
fn templates_that_load_code_read_files_or_the_environment_are_refused() {
    let served = Served::start(&[], &[]);
    let bundled = stored_template(&served);
    for (added, named) in [
        ("global\n    lua-load /tmp/x.lua", "lua-load"),
        ("global\n    setenv PATH /tmp", "setenv"),
        (
            "backend b\n    option external-check\n    external-check command /bin/sh",
            "external-check",
        ),
        (
            "frontend f\n    bind 127.0.0.1:1 ssl crt /etc/ssl/private/x.pem",
            "crt",
        ),
        (
            "frontend f\n    bind 127.0.0.1:1\n    acl a path -f /etc/hostname",
            "-f",
        ),
        (
            "frontend f\n    bind 127.0.0.1:1\n    http-request set-header X \"${HOME}\"",
            "HOME",
        ),
    ] {
        let answer = put_template(&served, &format!("{bundled}\n{added}\n"));
        assert_eq!(answer.status, 400, "{added}: {}", answer.body);
        assert!(answer.body.contains(named), "{added}: {}", answer.body);
    }
    assert_eq!(stored_template(&served), bundled);
}

#[test]
fn a_self_recursive_partial_is_a_4xx_and_the_server_lives() {
    let mut served = Served::start(&[], &[]);
    let attack = "{{#*inline \"p\"}}{{> p}}{{/inline}}{{> p}}\n";
    assert_eq!(attack.len(), 42);
    let answer = put_template(&served, attack);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("partial"), "{}", answer.body);
    let deep = format!("{}{}", "{{#if a}}".repeat(5000), "{{/if}}".repeat(5000));
    let answer = put_template(&served, &deep);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("nests"), "{}", answer.body);
    assert!(served.alive(), "the server died");
    assert_eq!(served.health().map(|a| a.status), Some(200));
}

#[test]
fn the_bundled_template_uploaded_again_is_accepted() {
    let served = Served::start(&[], &[]);
    let bundled = stored_template(&served);
    let tuned = bundled.replace("timeout client 50s", "timeout client 40s");
    let answer = put_template(&served, &tuned);
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(stored_template(&served), tuned);
}
