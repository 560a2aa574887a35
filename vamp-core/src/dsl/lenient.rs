//! The one leniency of libyaml that the original Vamp's users relied on and strict YAML 1.2 parsers refuse: lines
//! inside a flow collection (`[ … ]`, `{ … }`) indented no deeper than the line that opened it.

/// Re-indents the continuation lines of flow collections that are not indented deeper than their opening line.
/// `None` when nothing needs changing. Quoted text, comments and block scalars are skipped; a `[` or `{` outside
/// a flow collection opens one only where a value starts (after `: `, `- `, `? ` or at the start of a line).
pub(crate) fn relax_flow_indentation(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut depth = 0usize;
    let mut base_indent = 0usize;
    let mut quote: Option<char> = None;
    let mut block_scalar_indent: Option<usize> = None;
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let blank = line.trim().is_empty();
        if let Some(bi) = block_scalar_indent {
            if blank || indent > bi {
                out.push_str(line);
                continue;
            }
            block_scalar_indent = None;
        }
        if depth > 0 && quote.is_none() && !blank && indent <= base_indent {
            out.push_str(&" ".repeat(base_indent + 1 - indent));
            changed = true;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let ch = chars[i];
            match quote {
                Some('\'') => {
                    if ch == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            i += 1;
                        } else {
                            quote = None;
                        }
                    }
                }
                Some(_) => {
                    if ch == '\\' {
                        i += 1;
                    } else if ch == '"' {
                        quote = None;
                    }
                }
                None => {
                    let prev = if i == 0 { ' ' } else { chars[i - 1] };
                    let before: String = chars[..i].iter().collect();
                    let value_start = {
                        let t = before.trim_end();
                        t.is_empty() || t.ends_with(':') || t.ends_with('-') || t.ends_with('?')
                    };
                    match ch {
                        '#' if prev.is_whitespace() => break,
                        '\'' | '"' if depth > 0 || value_start => quote = Some(ch),
                        '[' | '{' if depth > 0 || (value_start && prev.is_whitespace()) => {
                            if depth == 0 {
                                base_indent = indent;
                            }
                            depth += 1;
                        }
                        ']' | '}' if depth > 0 => depth -= 1,
                        '|' | '>' if depth == 0 && value_start => {
                            let rest: String = chars[i + 1..].iter().collect();
                            let rest = rest.trim();
                            if rest.is_empty()
                                || rest.starts_with('#')
                                || rest.chars().all(|c| matches!(c, '+' | '-') || c.is_ascii_digit())
                            {
                                block_scalar_indent = Some(indent);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            i += 1;
        }
        out.push_str(line);
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::relax_flow_indentation;

    #[test]
    fn closing_bracket_at_the_key_indentation_is_indented() {
        let text = "hosts: [\n  \"a\",\n  \"b\"\n]\nname: x\n";
        let relaxed = relax_flow_indentation(text).unwrap();
        assert_eq!(relaxed, "hosts: [\n  \"a\",\n  \"b\"\n ]\nname: x\n");
    }

    #[test]
    fn brackets_inside_plain_values_are_not_flow() {
        assert_eq!(relax_flow_indentation("path: /a/%[path] if { x }\nb: 1\n"), None);
    }

    #[test]
    fn brackets_in_quotes_and_comments_are_ignored() {
        assert_eq!(relax_flow_indentation("a: '[' # [\nb: \"{\"\n"), None);
    }

    #[test]
    fn block_scalars_are_left_alone() {
        assert_eq!(relax_flow_indentation("a: |\n  x: [\nb: 1\n"), None);
    }
}
