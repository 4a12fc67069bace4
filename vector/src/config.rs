//! A static check of a Vector config's topology, for a machine without a
//! Vector binary (`vector validate` is the real thing).
//!
//! It knows the outputs Vector gives each component kind used here:
//!
//! * a source or transform named `x` outputs `x`;
//! * a `route` transform also outputs `x.<route>` for each key of `route`,
//!   and `x._unmatched` unless `reroute_unmatched = false`;
//! * a `remap` transform with `reroute_dropped = true` also outputs
//!   `x.dropped`.
//!
//! and checks that every `inputs` entry of a transform or sink names one of
//! them (a `*` in an entry is a wildcard, as in Vector, and must match at
//! least one), that no component reads its own output, and that every sink
//! has an `encoding` with a `codec`.

use std::collections::BTreeSet;

/// The kinds of component, as the config's top-level tables name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Source,
    Transform,
    Sink,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::Source => "sources",
            Kind::Transform => "transforms",
            Kind::Sink => "sinks",
        }
    }
}

/// One component of a config.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    pub kind: Kind,
    pub name: String,
    /// The `type` key.
    pub type_: String,
    pub inputs: Vec<String>,
    /// The component's table, for checks of its own keys.
    pub table: toml::Table,
}

impl Component {
    /// The names other components can read from.
    pub fn outputs(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.kind == Kind::Sink {
            return out;
        }
        out.push(self.name.clone());
        let flag = |key: &str, default: bool| {
            self.table
                .get(key)
                .and_then(toml::Value::as_bool)
                .unwrap_or(default)
        };
        match self.type_.as_str() {
            "route" => {
                if let Some(routes) = self.table.get("route").and_then(toml::Value::as_table) {
                    out.extend(routes.keys().map(|r| format!("{}.{r}", self.name)));
                }
                if flag("reroute_unmatched", true) {
                    out.push(format!("{}._unmatched", self.name));
                }
            }
            "remap" if flag("reroute_dropped", false) => {
                out.push(format!("{}.dropped", self.name));
            }
            _ => {}
        }
        out
    }
}

/// Reads every component of a config (TOML text).
pub fn components(config_text: &str) -> Result<Vec<Component>, String> {
    let root: toml::Table = config_text
        .parse()
        .map_err(|e: toml::de::Error| format!("not valid TOML: {e}"))?;
    let mut all = Vec::new();
    for kind in [Kind::Source, Kind::Transform, Kind::Sink] {
        let Some(section) = root.get(kind.table()) else {
            continue;
        };
        let section = section
            .as_table()
            .ok_or_else(|| format!("`{}` is not a table", kind.table()))?;
        for (name, value) in section {
            let where_ = format!("{}.{name}", kind.table());
            let table = value
                .as_table()
                .ok_or_else(|| format!("{where_} is not a table"))?
                .clone();
            let type_ = table
                .get("type")
                .and_then(toml::Value::as_str)
                .ok_or_else(|| format!("{where_} has no `type`"))?
                .to_owned();
            let inputs = match table.get("inputs") {
                None => Vec::new(),
                Some(toml::Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| format!("{where_}.inputs holds a non-string"))
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(format!("{where_}.inputs is not an array")),
            };
            all.push(Component {
                kind,
                name: name.clone(),
                type_,
                inputs,
                table,
            });
        }
    }
    Ok(all)
}

/// Every topology problem of a config; empty when it is sound.
pub fn problems(config_text: &str) -> Vec<String> {
    let all = match components(config_text) {
        Ok(all) => all,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for c in &all {
        if !names.insert(c.name.as_str()) {
            problems.push(format!("component name `{}` is used twice", c.name));
        }
    }
    if !all.iter().any(|c| c.kind == Kind::Source) {
        problems.push("no source".to_owned());
    }
    if !all.iter().any(|c| c.kind == Kind::Sink) {
        problems.push("no sink".to_owned());
    }
    let outputs: Vec<(String, &str)> = all
        .iter()
        .flat_map(|c| c.outputs().into_iter().map(move |o| (o, c.name.as_str())))
        .collect();
    for c in &all {
        let where_ = format!("{}.{}", c.kind.table(), c.name);
        match c.kind {
            Kind::Source if !c.inputs.is_empty() => {
                problems.push(format!("{where_} is a source but has `inputs`"));
            }
            Kind::Transform | Kind::Sink if c.inputs.is_empty() => {
                problems.push(format!("{where_} has no `inputs`"));
            }
            _ => {}
        }
        for input in &c.inputs {
            let matched: Vec<&str> = outputs
                .iter()
                .filter(|(o, _)| glob_match(input, o))
                .map(|(_, owner)| *owner)
                .collect();
            if matched.is_empty() {
                problems.push(format!(
                    "{where_}: input `{input}` names no component output"
                ));
            } else if matched.contains(&c.name.as_str()) {
                problems.push(format!("{where_}: input `{input}` is its own output"));
            }
        }
        if c.kind == Kind::Sink {
            let codec = c
                .table
                .get("encoding")
                .and_then(toml::Value::as_table)
                .and_then(|e| e.get("codec"))
                .and_then(toml::Value::as_str);
            if codec.is_none() {
                problems.push(format!("{where_} has no `encoding.codec`"));
            }
        }
    }
    problems
}

/// Vector's input wildcard: `*` matches any run of characters.
fn glob_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return pattern == name;
    };
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*`: exact match
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("a", "a"));
        assert!(!glob_match("a", "ab"));
        assert!(glob_match("a*", "ab"));
        assert!(glob_match("*b", "ab"));
        assert!(glob_match("a*c", "abc"));
        assert!(!glob_match("a*c", "abd"));
        assert!(glob_match("*", "x"));
        assert!(!glob_match("ab*b", "ab"));
    }
}
