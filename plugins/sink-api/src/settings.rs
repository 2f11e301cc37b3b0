//! Typed access to a `[sinks.NAME]` table with errors that name the sink and the key, and a
//! check that no unknown key was given (a typo must not be silently ignored).

use crate::sink::{BuildContext, SettingDoc, SinkConfig, SinkError};
use crate::template::{TemplateEngine, TemplateError};
use crate::text::suggest;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// How a digest larger than one message is sent: the `overflow` setting of every sink that
/// has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// One message listing as many findings as fit, the rest counted ("…and N more").
    Truncate,
    /// Numbered messages (`part`/`parts`), at most `max_messages`; beyond that, truncated.
    Split,
}

/// The values of `overflow`.
pub const OVERFLOW: &[&str] = &["truncate", "split"];

/// Reads settings; every key read is remembered so [`Settings::finish`] can reject the rest.
pub struct Settings<'a> {
    sink: &'a str,
    kind: &'a str,
    table: &'a toml::Table,
    /// The factory's documented settings: the known keys of hints.
    docs: &'static [SettingDoc],
    used: RefCell<BTreeSet<String>>,
}

fn type_name(v: &toml::Value) -> &'static str {
    v.type_str()
}

impl<'a> Settings<'a> {
    pub fn new(config: SinkConfig<'a>) -> Self {
        Settings {
            sink: config.name,
            kind: config.kind,
            table: config.settings,
            docs: config.docs,
            used: RefCell::new(BTreeSet::new()),
        }
    }

    /// The keys this sink type knows: its documented settings, or (without docs) those read.
    fn known(&self) -> Vec<String> {
        let mut known: Vec<String> = if self.docs.is_empty() {
            self.used.borrow().iter().cloned().collect()
        } else {
            self.docs.iter().map(|d| d.key.to_owned()).collect()
        };
        known.sort_unstable();
        known.dedup();
        known
    }

    /// For a missing `key`: the table's unknown key that looks like a misspelling of it
    /// (`webhook_url` for `url`, `topicarn` for `topic_arn`), as a hint.
    fn misspelt(&self, key: &str) -> Option<String> {
        let known = self.known();
        self.table
            .keys()
            .filter(|k| *k != "type" && !known.iter().any(|n| n == *k))
            .find(|k| {
                suggest(k, &[key]).is_some()
                    || k.ends_with(&format!("_{key}"))
                    || k.starts_with(&format!("{key}_"))
            })
            .map(|k| {
                format!(
                    "; `{k}` is not a setting of {} sinks: did you mean `{key}`?",
                    self.kind
                )
            })
    }

    pub fn sink(&self) -> &str {
        self.sink
    }

    fn err(&self, key: &str, message: impl Into<String>) -> SinkError {
        SinkError::config(self.sink, Some(key), message)
    }

    fn get(&self, key: &str) -> Option<&'a toml::Value> {
        self.used.borrow_mut().insert(key.to_string());
        self.table.get(key)
    }

    /// A string as written: references and `$${` escapes kept. Use it for a value that goes to
    /// a [`crate::LazySecret`] (which resolves both) or is one of fixed choices; for a plain
    /// value that is never resolved, use [`Settings::opt_text`].
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, SinkError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.err(key, format!("expected a string, found {}", type_name(v)))),
        }
    }

    /// A string that must be present and not blank, as written (see [`Settings::opt_str`]).
    pub fn str(&self, key: &str) -> Result<&'a str, SinkError> {
        match self.opt_str(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(self.err(key, "must not be empty")),
            None => Err(self.err(
                key,
                format!(
                    "missing (required){}",
                    self.misspelt(key).unwrap_or_default()
                ),
            )),
        }
    }

    /// A plain string setting's final text: `$${` becomes a literal `${` (the rules stage has
    /// already replaced `${env:…}`; other references are kept as written, as this setting is
    /// never resolved).
    pub fn opt_text(&self, key: &str) -> Result<Option<Cow<'a, str>>, SinkError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) => crate::reference::unescape(s)
                .map(Some)
                .map_err(|e| self.err(key, e.to_string())),
        }
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, SinkError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(
                key,
                format!("expected true or false, found {}", type_name(v)),
            )),
        }
    }

    /// A non-negative integer within `min..=max`.
    pub fn opt_uint(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, SinkError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i))
                if (*i as i128) >= min as i128 && (*i as i128) <= max as i128 =>
            {
                Ok(Some(*i as u64))
            }
            Some(toml::Value::Integer(i)) => Err(self.err(
                key,
                format!("expected an integer from {min} to {max}, found {i}"),
            )),
            Some(v) => Err(self.err(key, format!("expected an integer, found {}", type_name(v)))),
        }
    }

    /// One of `allowed`.
    pub fn opt_choice(
        &self,
        key: &str,
        allowed: &[&'static str],
    ) -> Result<Option<&'static str>, SinkError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) => allowed
                .iter()
                .copied()
                .find(|a| *a == s)
                .map(Some)
                .ok_or_else(|| {
                    self.err(
                        key,
                        format!("expected one of {}, found {s:?}", quoted(allowed)),
                    )
                }),
        }
    }

    /// A table of strings (`headers = { Authorization = "…" }`), in key order.
    pub fn opt_string_table(&self, key: &str) -> Result<Option<Vec<(String, String)>>, SinkError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Table(t)) => t
                .iter()
                .map(|(k, v)| match v {
                    toml::Value::String(s) => Ok((k.clone(), s.clone())),
                    v => Err(self.err(
                        &format!("{key}.{k}"),
                        format!("expected a string, found {}", type_name(v)),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.err(key, format!("expected a table, found {}", type_name(v)))),
        }
    }

    /// A list of strings.
    pub fn opt_string_list(&self, key: &str) -> Result<Option<Vec<String>>, SinkError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    v => Err(self.err(
                        &format!("{key}[{i}]"),
                        format!("expected a string, found {}", type_name(v)),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.err(
                key,
                format!("expected a list of strings, found {}", type_name(v)),
            )),
        }
    }

    /// The raw TOML value of `key`, for settings of a shape the typed readers do not cover
    /// (the caller reports errors with [`Settings::error`]).
    pub fn opt_value(&self, key: &str) -> Option<&'a toml::Value> {
        self.get(key)
    }

    /// An error about `key` (e.g. `json_limits[2].path`) of this sink.
    pub fn error(&self, key: &str, message: impl Into<String>) -> SinkError {
        self.err(key, message)
    }

    /// `overflow` (default `truncate`).
    pub fn overflow(&self) -> Result<Overflow, SinkError> {
        Ok(match self.opt_choice("overflow", OVERFLOW)? {
            Some("split") => Overflow::Split,
            _ => Overflow::Truncate,
        })
    }

    /// `overflow` and the messages a digest may take: 1 when truncating, else `max_messages`
    /// (`default` when unset, within `range`). `max_messages` is checked whatever `overflow`
    /// is: a bad value is an error, not silently ignored.
    pub fn overflow_and_max_messages(
        &self,
        default: u64,
        range: (u64, u64),
    ) -> Result<(Overflow, usize), SinkError> {
        let overflow = self.overflow()?;
        let split_max = self
            .opt_uint("max_messages", range.0, range.1)?
            .unwrap_or(default) as usize;
        Ok(match overflow {
            Overflow::Truncate => (overflow, 1),
            Overflow::Split => (overflow, split_max),
        })
    }

    /// Marks keys handled elsewhere (so `finish` accepts them).
    pub fn accept(&self, keys: &[&str]) {
        let mut used = self.used.borrow_mut();
        for k in keys {
            used.insert((*k).to_string());
        }
    }

    /// The `template` setting as a path resolved against rules.toml's directory.
    pub fn template_path(&self, ctx: &BuildContext) -> Result<Option<PathBuf>, SinkError> {
        Ok(self
            .opt_text("template")?
            .map(|p| ctx.base_dir.join(p.as_ref())))
    }

    /// Registers template `name` in `engine`: the file named by the `template` setting when set,
    /// else the built-in `default_source`.
    pub fn load_template(
        &self,
        ctx: &BuildContext,
        engine: &mut TemplateEngine,
        name: &str,
        default_source: &str,
    ) -> Result<(), SinkError> {
        match self.template_path(ctx)? {
            Some(path) => engine.register_file(name, &path),
            None => engine.register(name, default_source, &format!("built-in {name} template")),
        }
        .map_err(|e: TemplateError| SinkError::Template(e))
    }

    /// Errors on any key that was not read (except `type`).
    pub fn finish(self) -> Result<(), SinkError> {
        let used = self.used.borrow();
        let unknown: Vec<&str> = self
            .table
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "type" && !used.contains(*k))
            .collect();
        match unknown.first() {
            None => Ok(()),
            Some(k) => {
                drop(used);
                let known = self.known();
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                let hint = suggest(k, &known)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                Err(self.err(
                    k,
                    format!("unknown setting{hint} (known: {})", quoted(&known)),
                ))
            }
        }
    }
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
