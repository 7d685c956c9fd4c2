//! Rendering reports: human text, JSON and Graphviz DOT.

use crate::analyze::first_interesting;
use crate::analyze::waitfor::{name, wait_for, MAX_EDGE_REPORTS};
use crate::model::{Document, Report, ReportKind, Task, WaitEdge, WaitFor, SCHEMA};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

/// Renders all reports as the JSON document
/// `{"schema": "splat/1", "reports": [...], "wait_for": {...}}` (a [`Document`],
/// pretty-printed, with a trailing newline).
pub fn to_json(reports: &[Report]) -> String {
    let mut out = Vec::new();
    let mut w = JsonWriter::new(&mut out);
    for r in reports {
        // Writing to a Vec cannot fail.
        let _ = w.write(r);
    }
    let _ = w.finish(&wait_for(reports));
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the JSON document one report at a time (the same text as [`to_json`]), so that a
/// log of any size is rendered without holding its reports. The wait-for graph that the
/// analysis built ([`crate::Parser::wait_for`], returned by [`crate::parse_reader`]) is
/// written after them by [`JsonWriter::finish`], as the key `wait_for`.
pub struct JsonWriter<W: Write> {
    out: W,
    count: usize,
}

/// serde_json's pretty layout (two spaces a level, `"key": value`, `[]` and `{}` when empty),
/// starting `base` levels deep: a report comes out already indented as an item of `reports`,
/// written straight to the output instead of being indented line by line afterwards.
struct Indented {
    level: usize,
    has_value: bool,
}

impl Indented {
    fn new(base: usize) -> Self {
        Indented {
            level: base,
            has_value: false,
        }
    }

    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.level = self.level.saturating_sub(1);
        if self.has_value {
            self.newline(w, b"\n")?;
        }
        w.write_all(bracket)
    }

    /// The line end before an array item or object key (after a comma unless it is the
    /// `first`), then the indentation.
    fn item<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.newline(w, if first { b"\n" } else { b",\n" })
    }

    fn newline<W: ?Sized + Write>(&self, w: &mut W, prefix: &[u8]) -> std::io::Result<()> {
        const SPACES: &[u8] = &[b' '; 64];
        w.write_all(prefix)?;
        let mut n = 2 * self.level;
        while n > 0 {
            let k = n.min(SPACES.len());
            w.write_all(&SPACES[..k])?;
            n -= k;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for Indented {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

impl<W: Write> JsonWriter<W> {
    /// Starts a document on `out`.
    pub fn new(out: W) -> Self {
        JsonWriter { out, count: 0 }
    }

    /// Appends one report.
    pub fn write(&mut self, r: &Report) -> std::io::Result<()> {
        if self.count == 0 {
            write!(
                self.out,
                "{{\n  \"schema\": \"{SCHEMA}\",\n  \"reports\": ["
            )?;
        } else {
            self.out.write_all(b",")?;
        }
        self.count += 1;
        // The report's pretty JSON, indented as an item of `reports` (two levels deep).
        self.out.write_all(b"\n    ")?;
        let mut json = serde_json::Serializer::with_formatter(&mut self.out, Indented::new(2));
        // An I/O error comes back as itself (a closed pipe stays `BrokenPipe`).
        r.serialize(&mut json).map_err(std::io::Error::from)
    }

    /// Ends the document with the wait-for graph of the reports written; returns their number.
    pub fn finish(mut self, wait_for: &WaitFor) -> std::io::Result<usize> {
        if self.count == 0 {
            write!(
                self.out,
                "{{\n  \"schema\": \"{SCHEMA}\",\n  \"reports\": [],"
            )?;
        } else {
            self.out.write_all(b"\n  ],")?;
        }
        let graph = serde_json::to_string_pretty(wait_for).map_err(std::io::Error::other)?;
        self.out.write_all(b"\n  \"wait_for\": ")?;
        for (k, line) in graph.split('\n').enumerate() {
            if k > 0 {
                self.out.write_all(b"\n  ")?;
            }
            self.out.write_all(line.as_bytes())?;
        }
        self.out.write_all(b"\n}\n")?;
        self.out.flush()?;
        Ok(self.count)
    }
}

/// Reads a document written by [`to_json`] back.
pub fn from_json(json: &str) -> Result<Document, serde_json::Error> {
    serde_json::from_str(json)
}

/// Renders the reports for a person: per report, its title, kind, header and line range,
/// then the explanation.
pub fn to_text(reports: &[Report]) -> String {
    let mut out = Vec::new();
    let mut w = TextWriter::new(&mut out);
    for r in reports {
        let _ = w.write(r);
    }
    let _ = w.finish(&wait_for(reports));
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the text rendering one report at a time (the same text as [`to_text`]); the
/// section of the analysed wait-for graph comes at the end, before the count line.
pub struct TextWriter<W: Write> {
    out: W,
    count: usize,
    kinds: BTreeMap<ReportKind, usize>,
}

impl<W: Write> TextWriter<W> {
    /// Starts the rendering on `out`.
    pub fn new(out: W) -> Self {
        TextWriter {
            out,
            count: 0,
            kinds: BTreeMap::new(),
        }
    }

    /// Appends one report.
    pub fn write(&mut self, r: &Report) -> std::io::Result<()> {
        let mut s = String::new();
        if self.count > 0 {
            s.push('\n');
        }
        self.count += 1;
        *self.kinds.entry(r.kind).or_default() += 1;
        let _ = writeln!(s, "[{}] {}", self.count, r.title);
        let _ = writeln!(
            s,
            "    {}: {} (lines {}-{}{})",
            r.kind,
            r.header.trim(),
            r.start_line,
            r.end_line,
            if r.truncated { ", truncated" } else { "" }
        );
        for line in r.explanation.lines() {
            let _ = writeln!(s, "    {line}");
        }
        self.out.write_all(s.as_bytes())
    }

    /// Ends the rendering with the wait-for graph of the reports written and the count line;
    /// returns the number of reports written.
    pub fn finish(mut self, wait_for: &WaitFor) -> std::io::Result<usize> {
        if self.count == 0 {
            self.out
                .write_all(b"splat: no lockdep, hung-task or other kernel reports found\n")?;
        } else {
            self.out.write_all(text_section(wait_for).as_bytes())?;
            let summary: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            writeln!(
                self.out,
                "\n{} report{}: {}",
                self.count,
                if self.count == 1 { "" } else { "s" },
                summary.join(", ")
            )?;
        }
        self.out.flush()?;
        Ok(self.count)
    }
}

/// One edge of the lock-order graph.
#[derive(Default)]
struct Edge {
    labels: Vec<String>,
    cycle: bool,
}

/// `s` as a quoted DOT string.
pub(crate) fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => {}
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Renders the lock-order graph of all reports as Graphviz DOT.
///
/// Nodes are lock classes. An edge `L1 -> L2` means "L2 was taken while holding L1"; its label
/// names the task and/or function and the report. Edges that are part of a reported cycle
/// (circular dependency, recursive locking) are red and bold.
pub fn to_dot(reports: &[Report]) -> String {
    let mut g = DotGraph::default();
    for r in reports {
        g.add(r);
    }
    g.render(&wait_for(reports))
}

/// The lock-order graph built one report at a time (see [`to_dot`]); it holds the lock classes
/// and edges, not the reports.
#[derive(Default)]
pub struct DotGraph {
    nodes: Vec<String>,
    edges: BTreeMap<(String, String), Edge>,
    count: usize,
}

fn add_node(nodes: &mut Vec<String>, n: &str) {
    if !nodes.iter().any(|x| x == n) {
        nodes.push(n.to_string());
    }
}

impl DotGraph {
    /// Adds the next report's locks and edges.
    pub fn add(&mut self, r: &Report) {
        self.count += 1;
        let n = self.count;
        let nodes = &mut self.nodes;
        let edges = &mut self.edges;
        let mut add_edge = |from: &str, to: &str, label: String, cycle: bool| {
            let e = edges.entry((from.to_string(), to.to_string())).or_default();
            if !label.is_empty() && !e.labels.contains(&label) {
                e.labels.push(label);
            }
            e.cycle |= cycle;
        };
        for l in &r.locks {
            add_node(nodes, &l.name);
        }
        let who = r
            .tasks
            .first()
            .map(|t| match t.pid {
                Some(p) => format!("{}/{}", t.comm, p),
                None => t.comm.clone(),
            })
            .unwrap_or_default();
        let culprit = r
            .stacks
            .iter()
            .find(|s| s.context == "backtrace")
            .and_then(|s| first_interesting(&s.frames))
            .map(str::to_string)
            .or_else(|| r.acquiring.as_ref().and_then(|a| a.at.clone()));
        let main_label = |extra: &str| {
            let mut parts = Vec::new();
            if !who.is_empty() {
                parts.push(who.clone());
            }
            if let Some(f) = &culprit {
                parts.push(f.clone());
            }
            let mut s = parts.join(": ");
            if !extra.is_empty() {
                s = format!("{s} {extra}").trim().to_string();
            }
            format!("{s} (report #{n})").trim().to_string()
        };
        match r.kind {
            ReportKind::CircularDependency if r.cycle.len() >= 2 => {
                let mut entries: Vec<_> = r.chain.iter().collect();
                entries.sort_by_key(|c| c.index);
                for (k, pair) in r.cycle.windows(2).enumerate() {
                    add_node(nodes, &pair[0]);
                    add_node(nodes, &pair[1]);
                    let label = if k == 0 {
                        main_label("")
                    } else {
                        // Edge k (k >= 1) is chain entry #k: taken while holding entry #k-1.
                        let entry = entries.get(k);
                        let f = entry
                            .and_then(|e| first_interesting(&e.stack))
                            .map(|f| format!(": {f}"))
                            .unwrap_or_default();
                        let idx = entry.map(|e| e.index).unwrap_or(k as u32);
                        format!("chain #{idx}{f} (report #{n})")
                    };
                    add_edge(&pair[0], &pair[1], label, true);
                }
            }
            ReportKind::RecursiveLocking => {
                if let (Some(h), Some(a)) = (&r.holding, &r.acquiring) {
                    add_node(nodes, &h.lock);
                    add_node(nodes, &a.lock);
                    add_edge(&h.lock, &a.lock, main_label("again"), true);
                }
            }
            _ => {
                if let (Some(h), Some(a)) = (&r.holding, &r.acquiring) {
                    add_node(nodes, &h.lock);
                    add_node(nodes, &a.lock);
                    add_edge(&h.lock, &a.lock, main_label(""), false);
                }
                if let Some((from, to)) = r
                    .details
                    .get("new_dependency")
                    .and_then(|d| d.split_once(" -> "))
                {
                    add_node(nodes, from);
                    add_node(nodes, to);
                    add_edge(from, to, main_label(""), false);
                }
            }
        }
        // Held-lock lists: each lock was taken while holding the one before it.
        for pair in r.held_locks.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.task == b.task && a.pid == b.pid && b.index == a.index + 1 {
                let p = b.pid.map(|p| format!("/{p}")).unwrap_or_default();
                let at = b.at.as_ref().map(|f| format!(": {f}")).unwrap_or_default();
                add_edge(&a.lock, &b.lock, format!("{}{p}{at} (held)", b.task), false);
            }
        }
    }

    /// The graph as Graphviz DOT, with the wait-for graph of the hung tasks (as the analysis
    /// built it) as a cluster.
    pub fn render(&self, wait_for: &WaitFor) -> String {
        let (nodes, edges) = (&self.nodes, &self.edges);
        let mut out = String::from("digraph splat {\n");
        out.push_str("  // Lock-order graph: an edge A -> B means B was taken while holding A.\n");
        out.push_str("  rankdir=LR;\n");
        out.push_str("  node [shape=box, fontname=\"monospace\"];\n");
        out.push_str("  edge [fontname=\"monospace\", fontsize=10];\n");
        for n in nodes {
            let _ = writeln!(out, "  {};", quote(n));
        }
        for ((from, to), e) in edges {
            let mut attrs = vec![format!("label={}", quote(&e.labels.join("\n")))];
            if e.cycle {
                attrs.push("color=red".to_string());
                attrs.push("fontcolor=red".to_string());
                attrs.push("style=bold".to_string());
                attrs.push("penwidth=2".to_string());
            }
            let _ = writeln!(
                out,
                "  {} -> {} [{}];",
                quote(from),
                quote(to),
                attrs.join(", ")
            );
        }
        if !wait_for.edges.is_empty() {
            out.push_str(&dot_section(wait_for));
        }
        out.push_str("}\n");
        out
    }
}

fn edge_label(e: &WaitEdge) -> String {
    let mut s = e.kind.clone();
    if let (Some(r), Some(h)) = (&e.role, &e.holder_role) {
        let _ = write!(s, " ({r} waits, {h} holds)");
    }
    if let Some(l) = &e.lock {
        let _ = write!(s, " {l}");
    }
    s
}

/// The wait-for graph as text for `to_text` (empty when no blocker line named a holder).
fn text_section(g: &WaitFor) -> String {
    if g.edges.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\nWait-for graph (from hung-task blocker lines): {} edge{}, {} cycle{}\n",
        g.edges.len(),
        if g.edges.len() == 1 { "" } else { "s" },
        g.cycles.len(),
        if g.cycles.len() == 1 { "" } else { "s" },
    );
    for e in &g.edges {
        let mut refs: Vec<String> = e.reports.iter().map(|i| format!("#{}", i + 1)).collect();
        if refs.len() >= MAX_EDGE_REPORTS {
            refs.push("...".to_string());
        }
        let _ = writeln!(
            out,
            "    {} -> {}: {} (report{} {}){}",
            name(&e.waiter),
            name(&e.holder),
            edge_label(e),
            if refs.len() == 1 { "" } else { "s" },
            refs.join(", "),
            if e.current { "" } else { " (earlier)" }
        );
    }
    for c in &g.cycles {
        let mut names: Vec<String> = c.tasks.iter().map(name).collect();
        if let Some(first) = names.first().cloned() {
            names.push(first);
        }
        let _ = writeln!(out, "    Cycle (real deadlock): {}", names.join(" -> "));
    }
    out
}

/// The wait-for graph as a DOT cluster for `to_dot` (empty when there is no edge): task nodes,
/// dashed "waits for" edges labelled with the lock kind (and class when known), cycle edges
/// red and bold.
fn dot_section(g: &WaitFor) -> String {
    if g.edges.is_empty() {
        return String::new();
    }
    let id = |t: &Task| quote(&format!("task {}", name(t)));
    let mut out = String::new();
    out.push_str(
        "  // Wait-for graph of hung tasks: an edge T1 -> T2 means T1 waits for a lock T2 holds.\n",
    );
    out.push_str("  subgraph cluster_waitfor {\n");
    out.push_str("    label=\"wait-for (hung-task blocker lines)\";\n");
    out.push_str("    style=dashed;\n");
    out.push_str("    fontname=\"monospace\";\n");
    let mut nodes: Vec<&Task> = Vec::new();
    for e in &g.edges {
        for t in [&e.waiter, &e.holder] {
            if !nodes.contains(&t) {
                nodes.push(t);
            }
        }
    }
    for t in nodes {
        // A holder that is not hung: say so, with its state when the kernel printed it.
        let free = g
            .edges
            .iter()
            .find(|e| e.holder == *t && !e.holder_hung)
            .map(|e| match &e.holder_state {
                Some(s) => format!("\nnot hung, state {s}"),
                None => "\nnot hung".to_string(),
            })
            .filter(|_| !g.edges.iter().any(|e| e.waiter == *t));
        let _ = writeln!(
            out,
            "    {} [label={}, shape=ellipse];",
            id(t),
            quote(&format!("{}{}", name(t), free.unwrap_or_default()))
        );
    }
    for e in &g.edges {
        let mut attrs = vec![
            "style=dashed".to_string(),
            format!("label={}", quote(&edge_label(e))),
        ];
        if e.in_cycle {
            attrs.push("color=red".to_string());
            attrs.push("fontcolor=red".to_string());
            attrs.push("penwidth=2".to_string());
        } else if !e.current {
            attrs.push("color=gray".to_string());
        }
        let _ = writeln!(
            out,
            "    {} -> {} [{}];",
            id(&e.waiter),
            id(&e.holder),
            attrs.join(", ")
        );
    }
    out.push_str("  }\n");
    out
}
