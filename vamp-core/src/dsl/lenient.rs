//! The one leniency of libyaml that the original Vamp's users relied on and strict YAML 1.2 parsers refuse: lines
//! inside a flow collection (`[ … ]`, `{ … }`) indented no deeper than the line that opened it.

/// Re-indents the continuation lines of flow collections that are not indented deeper than their opening line.
/// `None` when nothing needs changing. Quoted text, comments and block scalars are skipped; a `[` or `{` outside
/// a flow collection opens one only where a value starts (after `: `, `- `, `? ` or at the start of a line).
///
/// Linear in the length of the text (each character is looked at a bounded number of times); gives up (`None`)
/// once the deadline of this thread's [`super::limits`] has passed.
pub(crate) fn relax_flow_indentation(text: &str) -> Option<String> {
    let limits = super::limits::current();
    let mut out = String::with_capacity(text.len() + 64);
    let mut depth = 0usize;
    let mut base_indent = 0usize;
    let mut quote: Option<char> = None;
    let mut block_scalar_indent: Option<usize> = None;
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        if limits.expired() {
            return None;
        }
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
        let mut last_visible: Option<char> = None;
        let mut i = 0;
        while i < chars.len() {
            let ch = chars[i];
            let value_start = matches!(last_visible, None | Some(':' | '-' | '?'));
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
                        '|' | '>' if depth == 0 && value_start && is_block_header(&chars[i + 1..]) => {
                            block_scalar_indent = Some(indent);
                            break;
                        }
                        _ => {}
                    }
                }
            }
            if !ch.is_whitespace() {
                last_visible = Some(ch);
            }
            i += 1;
        }
        out.push_str(line);
    }
    changed.then_some(out)
}

/// Whether `rest`, what follows a `|` or `>`, makes it a block scalar header: nothing, a comment, or
/// indentation and chomping indicators. Stops at the first character that decides, so it looks only at
/// whitespace, digits, `+` and `-` before deciding: never at another `|` or `>`.
fn is_block_header(rest: &[char]) -> bool {
    let mut at = rest.iter().skip_while(|c| c.is_whitespace()).peekable();
    match at.peek() {
        None | Some('#') => return true,
        _ => {}
    }
    let mut at = at.skip_while(|c| matches!(c, '+' | '-') || c.is_ascii_digit());
    at.all(|c| c.is_whitespace())
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
        assert_eq!(relax_flow_indentation("a: >-2\n  x: [\nb: 1\n"), None);
    }

    #[test]
    fn a_bar_followed_by_text_is_not_a_block_scalar() {
        let text = "a: |x [\n1\n]\n";
        assert_eq!(relax_flow_indentation(text), None);
        let text = "a: [ |x,\n1\n]\n";
        assert_eq!(relax_flow_indentation(text).unwrap(), "a: [ |x,\n 1\n ]\n");
    }

    #[test]
    fn an_expired_deadline_gives_up() {
        let limits = crate::dsl::limits::ReadLimits {
            deadline: Some(std::time::Instant::now()),
            ..Default::default()
        };
        let text = "hosts: [\n  \"a\"\n]\n";
        assert_eq!(
            crate::dsl::limits::with_limits(limits, || relax_flow_indentation(text)),
            None
        );
    }
}
