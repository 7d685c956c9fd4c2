//! Gate a CI job on kernel reports: which reports of a console a rule set lets pass.
//!
//! A rule set has an allow list and a deny list. A rule names a report by its kind, its title,
//! its signature ([`crate::summary::signature`], the line `--summary` prints) or the tasks it is
//! about; every field a rule gives must match. A report passes when no deny rule matches it and
//! an allow rule does (or, with `default = "allow"`, when no deny rule matches it). `splat check`
//! reads the rules from a TOML file:
//!
//! ```toml
//! # default = "deny"   # a report no rule names: "deny" (the default) or "allow"
//!
//! [[allow]]
//! name = "the module's deadlock, on purpose"   # optional: how the output calls the rule
//! kind = "circular_dependency"                 # the report's kind, as `splat --json` says it
//! title = "possible deadlock in rust_deadlock::*"
//!
//! [[allow]]
//! kind = "hung_task"
//! task = "deadlock_*"                          # every task the report is about
//!
//! [[deny]]
//! signature = "circular_dependency: * @ *ext4*"
//! ```
//!
//! Titles, signatures and tasks are matched whole, with `*` for any run of characters and `?` for
//! one. A rule without any of kind, title, signature or task is refused, as is an unknown key or
//! kind.
//!
//! ```
//! use splat::check::{Rule, Rules};
//! use splat::ReportKind;
//!
//! let rules = Rules::parse("[[allow]]\nkind = \"hung_task\"\ntask = \"deadlock_*\"\n").unwrap();
//! assert_eq!(rules.allow().len(), 1);
//! // The same rules, built in code.
//! let built = Rules::deny_all().allowing(Rule::new().kind(ReportKind::HungTask).task("deadlock_*"));
//! assert_eq!(built.allow()[0].to_string(), rules.allow()[0].to_string());
//! assert!(Rules::parse("[[allow]]\nkind = \"no_such_kind\"\n").is_err());
//! ```

use crate::model::{Report, ReportKind};
use crate::triage::signatures;
use serde::Deserialize;
use std::fmt;
use wildmatch::WildMatch;

/// What happens to a report that no rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unnamed {
    /// It fails the check (the default: only what the allow list names passes).
    #[default]
    Deny,
    /// It passes (only what the deny list names fails).
    Allow,
}

/// A glob over a whole string: `*` any run of characters, `?` one character.
#[derive(Debug, Clone)]
struct Glob {
    text: String,
    matcher: WildMatch,
}

impl Glob {
    fn new(text: &str) -> Glob {
        Glob {
            text: text.to_string(),
            matcher: WildMatch::new(text),
        }
    }

    fn matches(&self, s: &str) -> bool {
        self.matcher.matches(s)
    }
}

/// One rule of an allow or deny list: the reports it names.
///
/// # Invariants
///
/// A rule held by a [`Rules`] names at least one of kind, title, signature and task (a rule
/// without any would name every report).
#[derive(Debug, Clone, Default)]
pub struct Rule {
    name: Option<String>,
    kind: Option<ReportKind>,
    title: Option<Glob>,
    signature: Option<Glob>,
    task: Option<Glob>,
    /// Which list and which entry of it (1-based), set when the rule joins a [`Rules`].
    place: Option<(&'static str, usize)>,
}

impl Rule {
    /// A rule that names nothing yet: give it a kind, a title, a signature or a task.
    pub fn new() -> Rule {
        Rule::default()
    }

    /// How the output calls the rule.
    pub fn name(mut self, name: &str) -> Rule {
        self.name = Some(name.to_string());
        self
    }

    /// Reports of this kind.
    pub fn kind(mut self, kind: ReportKind) -> Rule {
        self.kind = Some(kind);
        self
    }

    /// Reports whose title matches this glob.
    pub fn title(mut self, glob: &str) -> Rule {
        self.title = Some(Glob::new(glob));
        self
    }

    /// Reports whose signature (`KIND: LOCK -> LOCK @ FUNCTION`, or one of its alternatives)
    /// matches this glob.
    pub fn signature(mut self, glob: &str) -> Rule {
        self.signature = Some(Glob::new(glob));
        self
    }

    /// Reports about at least one task, each of whose names (`comm`) matches this glob.
    pub fn task(mut self, glob: &str) -> Rule {
        self.task = Some(Glob::new(glob));
        self
    }

    fn names_something(&self) -> bool {
        self.kind.is_some()
            || self.title.is_some()
            || self.signature.is_some()
            || self.task.is_some()
    }

    /// Whether the rule names `r`: every field it gives matches.
    pub fn matches(&self, r: &Report) -> bool {
        self.kind.is_none_or(|k| k == r.kind)
            && self.title.as_ref().is_none_or(|g| g.matches(&r.title))
            && self
                .signature
                .as_ref()
                .is_none_or(|g| signatures(r).iter().any(|s| g.matches(&s.to_string())))
            && self
                .task
                .as_ref()
                .is_none_or(|g| !r.tasks.is_empty() && r.tasks.iter().all(|t| g.matches(&t.comm)))
    }
}

/// `allow rule 2 (name): kind = hung_task, task = "deadlock_*"`.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.place {
            Some((list, n)) => write!(f, "{list} rule {n}")?,
            None => write!(f, "rule")?,
        }
        if let Some(name) = &self.name {
            write!(f, " ({name})")?;
        }
        let mut sep = ": ";
        if let Some(k) = self.kind {
            write!(f, "{sep}kind = {}", k.as_str())?;
            sep = ", ";
        }
        for (key, glob) in [
            ("title", &self.title),
            ("signature", &self.signature),
            ("task", &self.task),
        ] {
            if let Some(g) = glob {
                write!(f, "{sep}{key} = {:?}", g.text)?;
                sep = ", ";
            }
        }
        Ok(())
    }
}

/// Why a rule set was refused.
#[derive(Debug)]
pub enum RulesError {
    /// Not TOML, or not the rules' layout (an unknown key or kind, a value of the wrong type).
    Syntax(toml::de::Error),
    /// A rule that names nothing: it would name every report.
    EmptyRule {
        /// `allow` or `deny`.
        list: &'static str,
        /// The rule's place in its list, from 1.
        index: usize,
    },
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesError::Syntax(e) => write!(f, "{}", e.to_string().trim_end()),
            RulesError::EmptyRule { list, index } => write!(
                f,
                "{list} rule {index} names no report: give it kind, title, signature or task"
            ),
        }
    }
}

impl std::error::Error for RulesError {}

/// The rules file, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    default: Unnamed,
    #[serde(default)]
    allow: Vec<RuleEntry>,
    #[serde(default)]
    deny: Vec<RuleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    name: Option<String>,
    kind: Option<ReportKind>,
    title: Option<String>,
    signature: Option<String>,
    task: Option<String>,
}

impl From<RuleEntry> for Rule {
    fn from(e: RuleEntry) -> Rule {
        Rule {
            name: e.name,
            kind: e.kind,
            title: e.title.as_deref().map(Glob::new),
            signature: e.signature.as_deref().map(Glob::new),
            task: e.task.as_deref().map(Glob::new),
            place: None,
        }
    }
}

/// An allow list, a deny list and what happens to the reports neither names.
///
/// # Invariants
///
/// Every rule names something ([`Rule`]'s invariant) and knows its list and place in it.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    default: Unnamed,
    allow: Vec<Rule>,
    deny: Vec<Rule>,
}

/// What a rule set says of one report.
#[derive(Debug, Clone, Copy)]
pub enum Verdict<'a> {
    /// This allow rule names it, and no deny rule does.
    Allowed(&'a Rule),
    /// No rule names it, and the default is to allow.
    AllowedByDefault,
    /// This deny rule names it.
    Denied(&'a Rule),
    /// No rule names it, and the default is to deny.
    NotAllowed,
}

impl Verdict<'_> {
    /// Whether the report passes the check.
    pub fn passes(&self) -> bool {
        matches!(self, Verdict::Allowed(_) | Verdict::AllowedByDefault)
    }
}

/// `allowed by allow rule 1: kind = hung_task`, `not allowed: no allow rule names it`.
impl fmt::Display for Verdict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Allowed(rule) => write!(f, "allowed by {rule}"),
            Verdict::AllowedByDefault => {
                write!(f, "allowed: no rule names it, default = \"allow\"")
            }
            Verdict::Denied(rule) => write!(f, "denied by {rule}"),
            Verdict::NotAllowed => write!(f, "not allowed: no allow rule names it"),
        }
    }
}

impl Rules {
    /// No rule, default deny: every report fails the check.
    pub fn deny_all() -> Rules {
        Rules::default()
    }

    /// Reads a rules file (the format is in the [module documentation](self)).
    pub fn parse(text: &str) -> Result<Rules, RulesError> {
        let file: RulesFile = toml::from_str(text).map_err(RulesError::Syntax)?;
        let mut rules = Rules {
            default: file.default,
            ..Rules::default()
        };
        for (list, entries) in [("allow", file.allow), ("deny", file.deny)] {
            for (i, entry) in entries.into_iter().enumerate() {
                let rule = Rule::from(entry);
                if !rule.names_something() {
                    return Err(RulesError::EmptyRule { list, index: i + 1 });
                }
                rules = rules.add(list, rule);
            }
        }
        Ok(rules)
    }

    /// Adds `rule` to the list `list`.
    ///
    /// # Panics
    ///
    /// If the rule names nothing: built in code, that is a bug of the caller.
    fn add(mut self, list: &'static str, mut rule: Rule) -> Rules {
        assert!(rule.names_something(), "a {list} rule that names no report");
        let rules = if list == "allow" {
            &mut self.allow
        } else {
            &mut self.deny
        };
        // INVARIANT: the rule names something (asserted) and knows its place.
        rule.place = Some((list, rules.len() + 1));
        rules.push(rule);
        self
    }

    /// The rule set with `rule` added to its allow list.
    ///
    /// # Panics
    ///
    /// If the rule names nothing.
    pub fn allowing(self, rule: Rule) -> Rules {
        self.add("allow", rule)
    }

    /// The rule set with `rule` added to its deny list.
    ///
    /// # Panics
    ///
    /// If the rule names nothing.
    pub fn denying(self, rule: Rule) -> Rules {
        self.add("deny", rule)
    }

    /// The allow list.
    pub fn allow(&self) -> &[Rule] {
        &self.allow
    }

    /// The deny list.
    pub fn deny(&self) -> &[Rule] {
        &self.deny
    }

    /// What the rules say of `r`: a deny rule that names it wins over every allow rule.
    pub fn verdict(&self, r: &Report) -> Verdict<'_> {
        if let Some(rule) = self.deny.iter().find(|rule| rule.matches(r)) {
            return Verdict::Denied(rule);
        }
        match self.allow.iter().find(|rule| rule.matches(r)) {
            Some(rule) => Verdict::Allowed(rule),
            None if self.default == Unnamed::Allow => Verdict::AllowedByDefault,
            None => Verdict::NotAllowed,
        }
    }

    /// Checks `reports`: the reports that fail, each with its verdict (none: the check passes).
    pub fn offending<'a>(&'a self, reports: &'a [Report]) -> Vec<(&'a Report, Verdict<'a>)> {
        reports
            .iter()
            .map(|r| (r, self.verdict(r)))
            .filter(|(_, v)| !v.passes())
            .collect()
    }
}

/// One report's line in `splat check`'s output, and for a report that fails, its explanation:
///
/// ```text
/// FAIL [1] possible deadlock in foo (circular_dependency, lines 43-113)
///      signature: circular_dependency: a -> b @ foo
///      not allowed: no allow rule names it
///      (the explanation, indented)
/// ```
pub fn describe(index: usize, r: &Report, verdict: &Verdict<'_>) -> String {
    let mut out = format!(
        "{} [{index}] {} ({}, lines {}-{})\n",
        if verdict.passes() { "pass" } else { "FAIL" },
        r.title,
        r.kind.as_str(),
        r.start_line,
        r.end_line
    );
    let pad = "     ";
    if let Some(sig) = signatures(r).first() {
        out.push_str(&format!("{pad}signature: {sig}\n"));
    }
    out.push_str(&format!("{pad}{verdict}\n"));
    if !verdict.passes() {
        for line in r.explanation.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str(&format!("{pad}{line}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABBA: &str = include_str!("../tests/fixtures/abba-7.3-buggy-load-hung.log");

    fn reports() -> Vec<Report> {
        crate::pipeline::parse(ABBA)
    }

    #[test]
    fn an_unknown_key_kind_or_default_is_refused_with_what_is_wrong() {
        for (text, want) in [
            (
                "[[allow]]\nkinds = \"hung_task\"\n",
                "unknown field `kinds`",
            ),
            ("[[allow]]\nkind = \"hung\"\n", "unknown variant `hung`"),
            ("default = \"maybe\"\n", "unknown variant `maybe`"),
            (
                "[[deny]]\nname = \"nothing\"\n",
                "deny rule 1 names no report",
            ),
            ("[[allow]\n", "unclosed array table"),
        ] {
            let err = Rules::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn every_field_of_a_rule_must_match() {
        let r = reports();
        let hung = r.iter().find(|r| r.kind == ReportKind::HungTask).unwrap();
        let rule = |t| Rule::new().kind(ReportKind::HungTask).task(t);
        assert!(rule("deadlock_*").matches(hung));
        assert!(!rule("kworker*").matches(hung));
        assert!(!Rule::new()
            .kind(ReportKind::CircularDependency)
            .task("deadlock_*")
            .matches(hung));
        assert!(Rule::new().title("INFO: task hung in *").matches(hung));
        assert!(
            !Rule::new().title("task hung").matches(hung),
            "a title is matched whole"
        );
    }

    #[test]
    fn a_deny_rule_wins_and_the_default_decides_the_rest() {
        let r = reports();
        let circular = r
            .iter()
            .find(|r| r.kind == ReportKind::CircularDependency)
            .unwrap();
        let rules = Rules::parse(
            "[[allow]]\nkind = \"circular_dependency\"\n\
             [[deny]]\nname = \"our locks\"\nsignature = \"circular_dependency: sem_a -> sem_b @ *\"\n",
        )
        .unwrap();
        let v = rules.verdict(circular);
        assert!(!v.passes());
        assert_eq!(
            v.to_string(),
            "denied by deny rule 1 (our locks): signature = \"circular_dependency: sem_a -> sem_b @ *\""
        );
        let open = Rules::parse("default = \"allow\"\n[[deny]]\nkind = \"hung_task\"\n").unwrap();
        assert!(open.verdict(circular).passes());
        assert!(!Rules::deny_all().verdict(circular).passes());
    }
}
