//! User templates, bounded: what a replacement for the bundled template may contain and cost.
//!
//! A user template is refused (`Invalid`, naming the line and column) unless it keeps to what the bundled
//! template uses: text, comments, `{{value}}` expressions without arguments, and `{{#if}}`, `{{#unless}}` and
//! `{{#each}}` blocks (with `{{else}}`) — no partials, inline partials, decorators, subexpressions, block
//! parameters, helper arguments or other helpers. `{{#each}}` may walk only the model's own lists (`gateways`,
//! `acls`, `conditions`, `terms`, `routes`, `rewrites`, `servers`) relative to the current element, so a render
//! visits each element of the model at most once per `each` block and its time and size grow linearly with the
//! gateways. On top of that, [`TemplateLimits`] bound the template's size and nesting before it is parsed, and
//! each parse and render runs on its own thread with a large stack, a panic guard, an output cap and a
//! deadline: a hostile template fails with a message, the process rendering it lives on.

use std::io::Write;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::Handlebars;
use vamp_core::{Error, Result};

use super::model::TemplateModel;
use super::options::TemplateLimits;

/// The lists of the template model `{{#each}}` may walk.
pub const EACH_LISTS: [&str; 7] = [
    "gateways",
    "acls",
    "conditions",
    "terms",
    "routes",
    "rewrites",
    "servers",
];

/// The block helpers a user template may use.
pub const BLOCK_HELPERS: [&str; 3] = ["if", "unless", "each"];

/// The stack of the threads that parse and render user templates.
const STACK_BYTES: usize = 64 * 1024 * 1024;

/// How long parsing a template may take.
const PARSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses `source` within `limits` and checks it against the allow-list above. `Invalid` with what is wrong
/// and where.
pub fn compile(source: &str, limits: &TemplateLimits) -> Result<Template> {
    if source.len() > limits.max_template_bytes {
        return Err(Error::invalid(format!(
            "The HAProxy template is {} bytes; at most {} are allowed.",
            source.len(),
            limits.max_template_bytes
        )));
    }
    check_nesting(source, limits.max_nesting)?;
    let owned = source.to_string();
    let template = isolated("parsing the HAProxy template", PARSE_TIMEOUT, move || {
        Template::compile(&owned)
    })?
    .map_err(|e| Error::invalid(format!("The HAProxy template does not compile: {e}")).with_source(e))?;
    check_elements(&template)?;
    Ok(template)
}

/// Renders the registered template `name` with `model` on its own thread, within `limits`.
pub fn render(
    registry: &Arc<Handlebars<'static>>,
    name: &'static str,
    model: &TemplateModel,
    limits: &TemplateLimits,
) -> Result<String> {
    let registry = registry.clone();
    let model = model.clone();
    let max = limits.max_output_bytes;
    let rendered = isolated(
        "rendering the HAProxy template",
        limits.render_timeout,
        move || {
            let mut out = Capped {
                bytes: Vec::new(),
                max,
                exceeded: false,
            };
            let result = registry.render_to_write(name, &model, &mut out);
            (result, out)
        },
    )?;
    match rendered {
        (Ok(()), out) => String::from_utf8(out.bytes)
            .map_err(|_| Error::invalid("The HAProxy template rendered text that is not UTF-8.")),
        (Err(_), out) if out.exceeded => Err(Error::invalid(format!(
            "The HAProxy template renders more than {max} bytes; it is refused."
        ))),
        (Err(e), _) => {
            Err(Error::invalid(format!("The HAProxy template does not render: {e}")).with_source(e))
        }
    }
}

/// Runs `work` on a thread of its own with a large stack; `Invalid` when it panics or does not finish within
/// `timeout` (the thread is then left to finish on its own).
fn isolated<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("vamp-template".into())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = tx.send(result);
        })
        .map_err(|e| Error::backend(format!("A thread for {what} could not be started: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => Err(Error::invalid(format!(
            "{what} failed unexpectedly; the template is refused."
        ))),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(Error::invalid(format!(
            "{what} did not finish within {} ms; the template is refused.",
            timeout.as_millis()
        ))),
    }
}

/// A writer that refuses to grow beyond `max` bytes.
struct Capped {
    bytes: Vec<u8>,
    max: usize,
    exceeded: bool,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.max {
            self.exceeded = true;
            return Err(std::io::Error::other("the rendered configuration is too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Refuses text whose blocks (`{{#`, `{{^x`, `{{{{`) or parentheses nest deeper than `max`, before the parser
/// (which recurses on both) sees it.
fn check_nesting(source: &str, max: usize) -> Result<()> {
    let bytes = source.as_bytes();
    let (mut blocks, mut parens) = (0usize, 0usize);
    let mut line = 1;
    for (i, b) in bytes.iter().enumerate() {
        let next = |n: usize| bytes.get(i + n).copied().unwrap_or_default();
        match b {
            b'\n' => line += 1,
            b'{' if next(1) == b'{' => {
                let mut at = 2;
                while next(at) == b'{' || next(at) == b'~' {
                    at += 1;
                }
                match next(at) {
                    b'#' => blocks += 1,
                    b'^' if !matches!(next(at + 1), b'}' | b'~') => blocks += 1,
                    b'/' => blocks = blocks.saturating_sub(1),
                    _ => {}
                }
            }
            b'(' => parens += 1,
            b')' => parens = parens.saturating_sub(1),
            _ => {}
        }
        if blocks > max || parens > max {
            return Err(Error::invalid(format!(
                "The HAProxy template nests blocks or parentheses more than {max} deep (line {line})."
            )));
        }
    }
    Ok(())
}

fn refuse(template: &Template, index: usize, what: impl std::fmt::Display) -> Error {
    let at = template
        .mapping
        .get(index)
        .map(|m| format!(" (line {}, column {})", m.0, m.1))
        .unwrap_or_default();
    Error::invalid(format!(
        "The HAProxy template is refused{at}: {what}. A template may use {{{{value}}}}, {{{{#if}}}}, \
         {{{{#unless}}}} and {{{{#each <list of the model>}}}} only."
    ))
}

fn check_elements(template: &Template) -> Result<()> {
    for (index, element) in template.elements.iter().enumerate() {
        match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => {}
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                if !h.params.is_empty() || !h.hash.is_empty() || h.block_param.is_some() {
                    return Err(refuse(
                        template,
                        index,
                        format!("'{}' calls a helper with arguments", parameter_text(&h.name)),
                    ));
                }
                if matches!(h.name, Parameter::Subexpression(_)) {
                    return Err(refuse(template, index, "subexpressions are not allowed"));
                }
            }
            TemplateElement::HelperBlock(h) => {
                check_block(template, index, h)?;
                for inner in [&h.template, &h.inverse].into_iter().flatten() {
                    check_elements(inner)?;
                }
            }
            TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => {
                return Err(refuse(
                    template,
                    index,
                    "decorators and inline partials are not allowed",
                ));
            }
            TemplateElement::PartialExpression(_) | TemplateElement::PartialBlock(_) => {
                return Err(refuse(template, index, "partials are not allowed"));
            }
            _ => return Err(refuse(template, index, "this kind of element is not allowed")),
        }
    }
    Ok(())
}

fn check_block(template: &Template, index: usize, h: &HelperTemplate) -> Result<()> {
    let name = match &h.name {
        Parameter::Name(n) => n.as_str(),
        other => {
            return Err(refuse(
                template,
                index,
                format!("the block '{}' is not allowed", parameter_text(other)),
            ))
        }
    };
    if !BLOCK_HELPERS.contains(&name) {
        return Err(refuse(
            template,
            index,
            format!("the block helper '{name}' is not allowed"),
        ));
    }
    if !h.hash.is_empty() || h.block_param.is_some() {
        return Err(refuse(
            template,
            index,
            format!("'{name}' may not have hash arguments or block parameters"),
        ));
    }
    let [param] = h.params.as_slice() else {
        return Err(refuse(
            template,
            index,
            format!("'{name}' needs exactly one argument"),
        ));
    };
    if !matches!(param, Parameter::Name(_) | Parameter::Path(_)) {
        return Err(refuse(
            template,
            index,
            format!("the argument of '{name}' must be a value of the model"),
        ));
    }
    let text = parameter_text(param);
    if name == "each" && !EACH_LISTS.contains(&text.as_str()) {
        return Err(refuse(
            template,
            index,
            format!(
                "'{{{{#each {text}}}}}' does not walk a list of the current element; use one of {}",
                EACH_LISTS.join(", ")
            ),
        ));
    }
    Ok(())
}

fn parameter_text(p: &Parameter) -> String {
    match p {
        Parameter::Name(n) => n.clone(),
        Parameter::Path(handlebars::Path::Relative((_, raw))) => raw.clone(),
        Parameter::Path(handlebars::Path::Local((_, _, raw))) => raw.clone(),
        Parameter::Literal(v) => v.to_string(),
        Parameter::Subexpression(_) => "(…)".into(),
        _ => "(…)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haproxy::BUNDLED_TEMPLATE;

    fn limits() -> TemplateLimits {
        TemplateLimits::default()
    }

    #[test]
    fn the_bundled_template_is_allowed() {
        compile(BUNDLED_TEMPLATE, &limits()).unwrap();
    }

    #[test]
    fn partials_decorators_and_helpers_are_refused_with_their_place() {
        for (bad, what) in [
            ("{{#*inline \"a\"}}{{> a}}{{/inline}}{{> a}}", "inline partials"),
            ("x\n{{> a}}", "line 2"),
            ("{{#with gateways}}{{/with}}", "'with'"),
            ("{{#each @root.gateways}}{{/each}}", "@root.gateways"),
            (
                "{{#each gateways}}{{#each ../gateways}}{{/each}}{{/each}}",
                "../gateways",
            ),
            ("{{#each gateways as |g|}}{{/each}}", "block parameters"),
            ("{{lookup gateways 0}}", "arguments"),
            ("{{#if (eq a b)}}{{/if}}", "argument of 'if'"),
        ] {
            let e = compile(bad, &limits()).unwrap_err();
            assert_eq!(e.kind(), vamp_core::ErrorKind::Invalid);
            assert!(e.message().contains(what), "{bad}: {}", e.message());
        }
    }

    #[test]
    fn size_and_nesting_are_limited_before_parsing() {
        let deep = "{{#if a}}".repeat(100_000);
        let e = compile(&deep, &limits()).unwrap_err();
        assert!(e.message().contains("bytes"), "{}", e.message());
        let nested = format!("{}{}", "{{#if a}}".repeat(40), "{{/if}}".repeat(40));
        let e = compile(&nested, &limits()).unwrap_err();
        assert!(e.message().contains("nests"), "{}", e.message());
        let parens = format!("{{{{x {}}}}}", "(".repeat(40));
        assert!(compile(&parens, &limits()).is_err());
    }

    #[test]
    fn rendering_is_capped_in_size() {
        let mut registry = Handlebars::new();
        registry.register_template("t", compile(&"x".repeat(1000), &limits()).unwrap());
        let model = super::super::model::build(&[], &Default::default())
            .unwrap()
            .model;
        let small = TemplateLimits {
            max_output_bytes: 100,
            ..limits()
        };
        let e = render(&Arc::new(registry), "t", &model, &small).unwrap_err();
        assert!(e.message().contains("more than 100 bytes"), "{}", e.message());
    }
}
