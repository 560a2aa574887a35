//! A YAML/JSON document as a tree of nodes that remember their source position.
//!
//! Built from yaml-rust2's event parser rather than its loader so that positions survive, duplicate keys keep
//! the last value (as the original did), and hostile documents are bounded: nesting depth and the number of nodes
//! (aliases included) are capped, so reading never overflows the stack or expands a billion laughs.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting of maps and lists accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes accepted in one read, aliases counted at every use.
pub const MAX_NODES: usize = 1_000_000;

/// A node's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text.
    Str(String),
    /// A sequence.
    List(Vec<Node>),
    /// A mapping, in document order, keys as text; a repeated key keeps its first place and its last value.
    Map(Vec<(String, Node)>),
}

/// A value with its position (1-based line and column) and, for scalars, the text as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// The scalar's text as written; empty for maps and lists.
    pub raw: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl Node {
    /// A node without a position, for documents built in code.
    pub fn new(value: Value) -> Self {
        let raw = match &value {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => String::new(),
        };
        Node {
            value,
            raw,
            line: 0,
            col: 0,
        }
    }

    /// The position, if known.
    pub fn position(&self) -> Option<(usize, usize)> {
        (self.line > 0).then_some((self.line, self.col))
    }

    /// The scalar as text (numbers and booleans as written); `None` for null, maps and lists.
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => Some(&self.raw),
            _ => None,
        }
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The entry `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as JSON (maps keep their order).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Value::Str(s) => J::String(s.clone()),
            Value::List(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// A node from JSON.
    pub fn from_json(v: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        let value = match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::List(items.iter().map(Node::from_json).collect()),
            J::Object(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), Node::from_json(v))).collect()),
        };
        let raw = match v {
            J::Number(n) => n.to_string(),
            _ => String::new(),
        };
        let mut node = Node::new(value);
        if !raw.is_empty() {
            node.raw = raw;
        }
        node
    }
}

/// Why a document could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// 1-based line and column.
    pub position: Option<(usize, usize)>,
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i);
        }
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Int(i);
        }
    }
    let looks_float = !digits.is_empty()
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_float {
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(text.to_string())
}

enum Frame {
    List(Node, Vec<Node>),
    Map(Node, Vec<(String, Node)>, Option<(String, usize, usize)>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Node>,
    anchor_of_frame: Vec<usize>,
    docs: Vec<Node>,
    nodes: usize,
    error: Option<ParseError>,
}

impl Builder {
    fn fail(&mut self, message: impl Into<String>, mark: &Marker) {
        if self.error.is_none() {
            self.error = Some(ParseError {
                message: message.into(),
                position: Some((mark.line(), mark.col() + 1)),
            });
        }
    }

    fn count(&mut self, n: usize, mark: &Marker) {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            self.fail(
                format!("the document has more than {MAX_NODES} nodes (aliases counted at each use)"),
                mark,
            );
        }
    }

    fn push_value(&mut self, node: Node, mark: &Marker) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::List(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, pending)) => match pending.take() {
                None => {
                    let key = match &node.value {
                        Value::Null => String::new(),
                        Value::List(items) if items.iter().all(|i| i.as_text().is_some()) => {
                            let texts: Vec<&str> = items.iter().filter_map(Node::as_text).collect();
                            format!("[{}]", texts.join(", "))
                        }
                        Value::List(_) | Value::Map(_) => {
                            let (l, c) = (node.line, node.col);
                            self.error.get_or_insert(ParseError {
                                message: "map keys must be scalars".into(),
                                position: Some((l, c)),
                            });
                            return;
                        }
                        _ => node.raw.clone(),
                    };
                    *pending = Some((key, node.line, node.col));
                }
                Some((key, _, _)) => {
                    if let Some(slot) = entries.iter_mut().find(|(k, _)| *k == key) {
                        slot.1 = node;
                    } else {
                        entries.push((key, node));
                    }
                }
            },
        }
        let _ = mark;
    }

    fn node_at(value: Value, raw: String, mark: &Marker) -> Node {
        Node {
            value,
            raw,
            line: mark.line(),
            col: mark.col() + 1,
        }
    }

    fn open(&mut self, frame: Frame, anchor: usize, mark: &Marker) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(format!("the document nests deeper than {MAX_DEPTH} levels"), mark);
            return;
        }
        self.count(1, mark);
        self.stack.push(frame);
        self.anchor_of_frame.push(anchor);
    }

    fn close(&mut self, mark: &Marker) {
        let Some(frame) = self.stack.pop() else { return };
        let anchor = self.anchor_of_frame.pop().unwrap_or(0);
        let node = match frame {
            Frame::List(mut n, items) => {
                n.value = Value::List(items);
                n
            }
            Frame::Map(mut n, entries, pending) => {
                let mut entries = entries;
                if let Some((key, line, col)) = pending {
                    let null = Node {
                        value: Value::Null,
                        raw: String::new(),
                        line,
                        col,
                    };
                    entries.push((key, null));
                }
                n.value = Value::Map(entries);
                n
            }
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.push_value(node, mark);
    }
}

fn size_of(node: &Node) -> usize {
    match &node.value {
        Value::List(items) => 1 + items.iter().map(size_of).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(_, v)| size_of(v)).sum::<usize>(),
        _ => 1,
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, &mark);
                if let Some(t) = &tag {
                    if !known_tag(t) {
                        self.fail(
                            format!(
                                "unknown tag '{}{}': quote the value if it is text",
                                t.handle, t.suffix
                            ),
                            &mark,
                        );
                        return;
                    }
                }
                let forced_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style == TScalarStyle::Plain && !forced_str {
                    resolve_plain(&text)
                } else {
                    Value::Str(text.clone())
                };
                let node = Builder::node_at(value, text, &mark);
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push_value(node, &mark);
            }
            Event::SequenceStart(_, Some(t)) | Event::MappingStart(_, Some(t)) if !known_tag(&t) => {
                self.fail(format!("unknown tag '{}{}'", t.handle, t.suffix), &mark);
            }
            Event::SequenceStart(anchor, _) => {
                let n = Builder::node_at(Value::Null, String::new(), &mark);
                self.open(Frame::List(n, Vec::new()), anchor, &mark);
            }
            Event::MappingStart(anchor, _) => {
                let n = Builder::node_at(Value::Null, String::new(), &mark);
                self.open(Frame::Map(n, Vec::new(), None), anchor, &mark);
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(&mark),
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => {
                    self.count(size_of(&node), &mark);
                    if self.error.is_none() {
                        self.push_value(node, &mark);
                    }
                }
                None => self.fail("an alias refers to an unknown anchor", &mark),
            },
            _ => {}
        }
    }
}

fn known_tag(t: &yaml_rust2::parser::Tag) -> bool {
    matches!(t.handle.as_str(), "!!" | "tag:yaml.org,2002:")
        && matches!(
            t.suffix.as_str(),
            "str" | "int" | "float" | "bool" | "null" | "map" | "seq"
        )
}

/// Parses every document of a YAML (or JSON) text. An empty text gives no documents.
///
/// Like libyaml (and so the original Vamp), a flow collection whose continuation lines are indented no deeper
/// than the line that opened it (`hosts: [` … `]` at column 1) is accepted: when strict YAML 1.2 parsing fails
/// on indentation, the text is read again with those lines indented.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, ParseError> {
    match parse_strict(text) {
        Err(e) if e.message.contains("indentation") => match super::lenient::relax_flow_indentation(text) {
            Some(relaxed) => parse_strict(&relaxed).map_err(|_| e),
            None => Err(e),
        },
        other => other,
    }
}

fn parse_strict(text: &str) -> Result<Vec<Node>, ParseError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        let m = e.marker();
        return Err(ParseError {
            message: e.info().to_string(),
            position: Some((m.line(), m.col() + 1)),
        });
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.docs.into_iter().filter(|d| !d.is_null()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        parse_documents(text).unwrap().remove(0)
    }

    #[test]
    fn scalars_resolve_to_core_schema_types() {
        let n = one("a: 1\nb: 0.5\nc: true\nd: ~\ne: '1'\nf: 8080/http\n");
        assert_eq!(n.get("a").unwrap().value, Value::Int(1));
        assert_eq!(n.get("b").unwrap().value, Value::Float(0.5));
        assert_eq!(n.get("c").unwrap().value, Value::Bool(true));
        assert!(n.get("d").unwrap().is_null());
        assert_eq!(n.get("e").unwrap().value, Value::Str("1".into()));
        assert_eq!(n.get("f").unwrap().as_text(), Some("8080/http"));
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        let n = one("a: 1\na: 2\n");
        assert_eq!(n.get("a").unwrap().value, Value::Int(2));
    }

    #[test]
    fn empty_value_is_null() {
        let n = one("sticky:\nname: x\n");
        assert!(n.get("sticky").unwrap().is_null());
    }

    #[test]
    fn positions_are_one_based() {
        let n = one("a:\n  b: x\n");
        let b = n.get("a").unwrap().get("b").unwrap();
        assert_eq!(b.position(), Some((2, 6)));
    }

    #[test]
    fn multiple_documents_are_read() {
        let docs = parse_documents("---\nname: a\n---\nname: b\n").unwrap();
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn json_is_yaml() {
        let n = one(r#"{"name": "x", "ports": {"web": "8080/http"}}"#);
        assert_eq!(n.get("name").unwrap().as_text(), Some("x"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse_documents(&text).is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", [prev.as_str(); 10].join(", ")));
        }
        let err = parse_documents(&text).unwrap_err();
        assert!(err.message.contains("nodes"), "{err:?}");
    }

    #[test]
    fn invalid_yaml_reports_position() {
        let err = parse_documents("a: [1, 2\nb: 3").unwrap_err();
        assert!(err.position.is_some());
    }
}
