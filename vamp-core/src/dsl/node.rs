//! A YAML/JSON document as a tree of nodes that remember their source position.
//!
//! Built from yaml-rust2's event parser rather than its loader so that positions survive, duplicate keys keep
//! the last value (as the original did), and hostile documents are bounded: nesting depth, the number of nodes
//! (each alias counted with every node it clones) and what aliases may clone (nodes and bytes) are capped, so
//! reading never overflows the stack, expands a billion laughs or an anchor bomb, and the time it takes grows
//! linearly with the text (repeated keys are found through an index). The caps and a deadline come from
//! [`super::limits`].

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::limits::{self, ReadLimits};

/// Deepest nesting of maps and lists accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes accepted in one read, aliases counted at every use (the default of
/// [`ReadLimits::max_nodes`]).
pub const MAX_NODES: usize = 1_000_000;
/// Most nodes alias expansions may clone in one read (the default of [`ReadLimits::max_alias_nodes`]).
pub const MAX_ALIAS_NODES: usize = 100_000;
/// Most bytes of text alias expansions may clone in one read (the default of [`ReadLimits::max_alias_bytes`]).
pub const MAX_ALIAS_BYTES: usize = 4 * 1024 * 1024;
/// Maps with more entries than this find repeated keys through an index instead of a scan.
const INDEXED_MAP: usize = 16;
/// Events between two looks at the clock.
const CLOCK_EVERY: usize = 1024;

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

/// The entries of a map being built; past [`INDEXED_MAP`] entries, an index of their keys.
#[derive(Default)]
struct MapEntries {
    entries: Vec<(String, Node)>,
    index: Option<HashMap<String, usize>>,
}

impl MapEntries {
    /// Adds `key`, or replaces its value when it is already there (keeping its place).
    fn insert(&mut self, key: String, node: Node) {
        let at = match &self.index {
            Some(index) => index.get(&key).copied(),
            None => self.entries.iter().position(|(k, _)| *k == key),
        };
        if let Some(at) = at {
            self.entries[at].1 = node;
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.entries.len());
        }
        self.entries.push((key, node));
        if self.index.is_none() && self.entries.len() > INDEXED_MAP {
            let index = self
                .entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect();
            self.index = Some(index);
        }
    }
}

enum Frame {
    List(Node, Vec<Node>),
    Map(Node, MapEntries, Option<(String, usize, usize)>),
}

/// An anchored node with what cloning it costs: its nodes and its bytes of text.
struct Anchored {
    node: Node,
    nodes: usize,
    bytes: usize,
}

struct Builder {
    limits: ReadLimits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    anchor_of_frame: Vec<usize>,
    docs: Vec<Node>,
    nodes: usize,
    alias_nodes: usize,
    alias_bytes: usize,
    events: usize,
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

    fn new(limits: ReadLimits) -> Self {
        Builder {
            limits,
            stack: Vec::new(),
            anchors: HashMap::new(),
            anchor_of_frame: Vec::new(),
            docs: Vec::new(),
            nodes: 0,
            alias_nodes: 0,
            alias_bytes: 0,
            events: 0,
            error: None,
        }
    }

    fn count(&mut self, n: usize, mark: &Marker) {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            let max = self.limits.max_nodes;
            self.fail(
                format!("the document has more than {max} nodes (aliases counted at each use)"),
                mark,
            );
        }
    }

    /// Counts an alias that clones `nodes` nodes holding `bytes` bytes of text.
    fn count_alias(&mut self, nodes: usize, bytes: usize, mark: &Marker) {
        self.alias_nodes = self.alias_nodes.saturating_add(nodes);
        self.alias_bytes = self.alias_bytes.saturating_add(bytes);
        if self.alias_nodes > self.limits.max_alias_nodes {
            let max = self.limits.max_alias_nodes;
            self.fail(
                format!("the document's aliases repeat more than {max} nodes in all (an anchor bomb?)"),
                mark,
            );
        } else if self.alias_bytes > self.limits.max_alias_bytes {
            let max = self.limits.max_alias_bytes;
            self.fail(
                format!(
                    "the document's aliases repeat more than {max} bytes of text in all (an anchor bomb?)"
                ),
                mark,
            );
        }
        self.count(nodes, mark);
    }

    /// Fails once the deadline has passed, looking at the clock every [`CLOCK_EVERY`] events.
    fn tick(&mut self, mark: &Marker) {
        self.events += 1;
        if self.events % CLOCK_EVERY == 0 && self.limits.expired() {
            self.fail(
                "reading the document took longer than its time limit; send a smaller or simpler document",
                mark,
            );
        }
    }

    fn anchor(&mut self, id: usize, node: &Node) {
        let (nodes, bytes) = weight(node);
        self.anchors.insert(
            id,
            Anchored {
                node: node.clone(),
                nodes,
                bytes,
            },
        );
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
                Some((key, _, _)) => entries.insert(key, node),
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
            Frame::Map(mut n, mut entries, pending) => {
                if let Some((key, line, col)) = pending {
                    let null = Node {
                        value: Value::Null,
                        raw: String::new(),
                        line,
                        col,
                    };
                    entries.insert(key, null);
                }
                n.value = Value::Map(entries.entries);
                n
            }
        };
        if anchor > 0 {
            self.anchor(anchor, &node);
        }
        self.push_value(node, mark);
    }
}

/// The nodes of `node` and the bytes of text they hold (scalars as written and as read, map keys).
fn weight(node: &Node) -> (usize, usize) {
    let own = node.raw.len()
        + match &node.value {
            Value::Str(s) => s.len(),
            _ => 0,
        };
    let children = match &node.value {
        Value::List(items) => items.iter().map(weight).fold((0, 0), add),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                let (n, b) = weight(v);
                (n, b + k.len())
            })
            .fold((0, 0), add),
        _ => (0, 0),
    };
    add((1, own), children)
}

fn add(a: (usize, usize), b: (usize, usize)) -> (usize, usize) {
    (a.0.saturating_add(b.0), a.1.saturating_add(b.1))
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        self.tick(&mark);
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => self.anchors.clear(),
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
                    self.anchor(anchor, &node);
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
                self.open(Frame::Map(n, MapEntries::default(), None), anchor, &mark);
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(&mark),
            Event::Alias(id) => match self.anchors.get(&id).map(|a| (a.nodes, a.bytes)) {
                Some((nodes, bytes)) => {
                    self.count_alias(nodes, bytes, &mark);
                    if self.error.is_none() {
                        if let Some(anchored) = self.anchors.get(&id) {
                            let node = anchored.node.clone();
                            self.push_value(node, &mark);
                        }
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
///
/// Reads within the [`limits::current`] limits of this thread; a text over one is an error naming it.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, ParseError> {
    match parse_strict(text) {
        Err(e) if e.message.contains("indentation") => match super::lenient::relax_flow_indentation(text) {
            Some(relaxed) => parse_strict(&relaxed).map_err(|_| e),
            None => Err(e),
        },
        other => other,
    }
}

/// Feeds the parser's events to a builder until the stream ends or the builder fails, so a refused text is not
/// read to its end.
fn parse_strict(text: &str) -> Result<Vec<Node>, ParseError> {
    let mut builder = Builder::new(limits::current());
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            let m = e.marker();
            ParseError {
                message: e.info().to_string(),
                position: Some((m.line(), m.col() + 1)),
            }
        })?;
        if event == Event::StreamEnd {
            break;
        }
        builder.on_event(event, mark);
        if let Some(e) = builder.error.take() {
            return Err(e);
        }
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
    fn an_anchor_bomb_of_long_text_is_refused() {
        let mut text = format!("a: &a '{}'\nb: [", "x".repeat(100_000));
        text.push_str(&["*a"; 100].join(", "));
        text.push_str("]\n");
        let err = parse_documents(&text).unwrap_err();
        assert!(err.message.contains("bytes"), "{err:?}");
    }

    #[test]
    fn aliases_of_many_nodes_are_refused_before_the_node_limit() {
        let mut text = format!("a: &a [{}]\nb: [", ["x"; 1000].join(", "));
        text.push_str(&["*a"; 200].join(", "));
        text.push_str("]\n");
        let err = parse_documents(&text).unwrap_err();
        assert!(err.message.contains("aliases repeat more than"), "{err:?}");
    }

    #[test]
    fn a_few_aliases_are_read() {
        let n = one("base: &b {image: x, ports: {web: 80}}\none: *b\ntwo: *b\n");
        assert_eq!(n.get("two").unwrap().get("image").unwrap().as_text(), Some("x"));
    }

    #[test]
    fn the_limits_of_the_thread_apply() {
        let tight = limits::ReadLimits {
            max_nodes: 5,
            ..limits::ReadLimits::default()
        };
        let err = limits::with_limits(tight, || parse_documents("[1, 2, 3, 4, 5, 6]")).unwrap_err();
        assert!(err.message.contains("more than 5 nodes"), "{err:?}");
        let late = limits::ReadLimits {
            deadline: Some(std::time::Instant::now()),
            ..limits::ReadLimits::default()
        };
        let text: String = (0..5000).map(|i| format!("k{i}: {i}\n")).collect();
        let err = limits::with_limits(late, || parse_documents(&text)).unwrap_err();
        assert!(err.message.contains("time limit"), "{err:?}");
    }

    #[test]
    fn repeated_keys_of_a_big_map_keep_their_place_and_last_value() {
        let mut text: String = (0..100).map(|i| format!("k{i}: {i}\n")).collect();
        text.push_str("k3: last\n");
        let n = one(&text);
        let Value::Map(entries) = &n.value else { panic!() };
        assert_eq!(entries.len(), 100);
        assert_eq!(entries[3].0, "k3");
        assert_eq!(entries[3].1.as_text(), Some("last"));
    }

    /// The fastest of three runs of `f`.
    fn fastest(f: impl Fn()) -> std::time::Duration {
        (0..3)
            .map(|_| {
                let start = std::time::Instant::now();
                f();
                start.elapsed()
            })
            .min()
            .unwrap_or_default()
    }

    #[test]
    fn reading_time_grows_linearly_with_the_number_of_keys() {
        let text = |n: usize| -> String { (0..n).map(|i| format!("key{i}: {i}\n")).collect() };
        let (small, large) = (text(8_000), text(80_000));
        let t_small = fastest(|| assert!(parse_documents(&small).is_ok()));
        let t_large = fastest(|| assert!(parse_documents(&large).is_ok()));
        let ratio = t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-6);
        assert!(
            ratio < 40.0,
            "10x the keys took {ratio:.1}x the time ({t_small:?} → {t_large:?}); quadratic would be ~100x"
        );
    }

    #[test]
    fn relaxing_a_long_line_takes_linear_time() {
        let text = |n: usize| -> String { format!("hosts: [\n{}\n]\nname: x\n", "ab, ".repeat(n)) };
        let (small, large) = (text(1_600), text(16_000));
        assert!(crate::dsl::lenient::relax_flow_indentation(&large).is_some());
        let t_small = fastest(|| assert!(parse_documents(&small).is_ok()));
        let t_large = fastest(|| assert!(parse_documents(&large).is_ok()));
        let ratio = t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-6);
        assert!(
            ratio < 40.0,
            "a 10x longer line took {ratio:.1}x the time ({t_small:?} → {t_large:?}); quadratic would be ~100x"
        );
    }

    #[test]
    fn invalid_yaml_reports_position() {
        let err = parse_documents("a: [1, 2\nb: 3").unwrap_err();
        assert!(err.position.is_some());
    }
}
