//! The JSON reader: a serde visitor over `{"reportItems": [...]}` that builds one item at a
//! time and hands it on; other top-level keys are skipped with `IgnoredAny`. Memory is one item,
//! whatever the report's size.
//!
//! This is the reference reader. Reports go through the structural scan of
//! [`super::json_fast`] first, which hands over to this reader ([`read_from`]) wherever it
//! meets something it does not handle itself, errors included, so every error and every
//! unusual report is read here exactly as before.

use super::input::{Origin, Prepared};
use super::limit::Region;
use super::schema::{self, ItemProblem, Kind, Schema};
use super::{Ctx, Format, ReportError};
use crate::{FindingView, RawItem, ReportTemplate};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::io::{BufReader, Read};

/// The reader's buffer, and the size of each read from the report: the fast path reads in
/// requests of the same size, so the size limits trip at the same items either way.
pub(super) const BUFFER: usize = 64 * 1024;

pub(super) fn read(
    p: &mut Prepared<'_>,
    ctx: &mut Ctx<'_>,
) -> Result<Option<ReportTemplate>, ReportError> {
    if p.first == b'[' {
        return Err(ctx.err_unknown_shape(
            "the JSON is an array at top level; expected an object {\"reportItems\": [...]}".into(),
        ));
    }
    if ctx.reference {
        let (origin, gzip) = (p.origin.clone(), p.gzip);
        return read_from(&mut p.reader, &origin, gzip, ctx, Resume::default());
    }
    super::json_fast::read(p, ctx)
}

/// Where [`read_from`] starts: at the report's first byte (the default), or inside
/// `reportItems` where the fast path handed over (its input then starts with a made-up
/// `{"reportItems":[` and, when items were read already, a dummy `{}` to skip).
#[derive(Default)]
pub(super) struct Resume {
    /// The template chosen from the first item, if one was read.
    pub schema: Option<&'static Schema>,
    /// Skip the first element of `reportItems` (the dummy standing for the items read).
    pub skip_first: bool,
}

/// The serde reader over `input`, counting items on from `ctx.items`.
pub(super) fn read_from<R: Read>(
    input: R,
    origin: &Origin,
    gzip: bool,
    ctx: &mut Ctx<'_>,
    resume: Resume,
) -> Result<Option<ReportTemplate>, ReportError> {
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(BUFFER, input));
    let mut state = State {
        ctx,
        schema: resume.schema,
        skip_first: resume.skip_first,
        failure: None,
        current: None,
        raw: RawItem::new(),
        key_order: Vec::new(),
    };
    let result = (&mut de)
        .deserialize_map(Top(&mut state))
        .and_then(|found| de.end().map(|()| found));
    let State {
        ctx,
        schema,
        failure,
        current,
        ..
    } = state;
    match result {
        Ok(true) => Ok(schema.map(|s| s.template).or(ctx.hint)),
        Ok(false) => Err(ctx.err_unknown_shape(
            "the JSON object has no \"reportItems\" key; expected {\"reportItems\": [...]}".into(),
        )),
        Err(e) => Err(match failure {
            Some(f) => f,
            None => json_error(ctx.source_name, e, current, origin.of_error(gzip)),
        }),
    }
}

fn json_error(
    source_name: &str,
    e: serde_json::Error,
    item: Option<u64>,
    origin: super::input::ErrorOrigin,
) -> ReportError {
    use serde_json::error::Category;
    let (line, column) = (e.line() as u64, e.column() as u64);
    let category = e.classify();
    if category == Category::Io {
        return super::io_error(source_name, origin, std::io::Error::from(e));
    }
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let mut message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    if category == Category::Eof {
        message = format!("unexpected end of input, the report is truncated ({message})");
    }
    if let Some(i) = item {
        message.push_str(&format!(" (while reading item {i})"));
    }
    ReportError::Parse {
        source_name: source_name.to_string(),
        format: Format::Json,
        line,
        column: Some(column),
        message,
    }
}

struct State<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    schema: Option<&'static Schema>,
    /// See [`Resume::skip_first`].
    skip_first: bool,
    /// The structured error behind a visitor's `custom` error, if one was raised.
    failure: Option<ReportError>,
    /// The index of the item being read, for positioning parse errors.
    current: Option<u64>,
    /// The item being read: one for the whole report, cleared between items (its buffers
    /// keep their capacity).
    raw: RawItem,
    /// The known key at each position of the previous item: items of one report repeat their
    /// key order, so one comparison usually interns a key.
    key_order: KeyOrder,
}

/// The known key at each position of the previous item (see [`State::key_order`]).
pub(super) type KeyOrder = Vec<Option<(&'static str, usize)>>;

impl State<'_, '_> {
    fn fail<E: de::Error>(&mut self, error: ReportError) -> E {
        let e = E::custom(&error);
        self.failure = Some(error);
        e
    }

    fn item(&mut self, raw: &RawItem) -> Result<(), ReportError> {
        emit_raw(self.ctx, &mut self.schema, raw)
    }
}

/// Hands on item `ctx.items` read into `raw`: the template is chosen from the first item
/// (`schema` is set then), the item normalised and given to `ctx.each`.
pub(super) fn emit_raw(
    ctx: &mut Ctx<'_>,
    schema: &mut Option<&'static Schema>,
    raw: &RawItem,
) -> Result<(), ReportError> {
    let index = ctx.items;
    let schema = match *schema {
        Some(s) => s,
        None => {
            let detected = schema::detect(|k| raw.contains_key(k));
            let Some(s) = ctx.choose(detected) else {
                return Err(ctx.err_unknown_shape(format!(
                    "item {index} has none of the keys that identify a report template ({})",
                    schema::markers()
                )));
            };
            *schema = Some(s);
            s
        }
    };
    // The name is copied only for an error: this runs once per item.
    let source_name = || ctx.source_name.to_string();
    match schema.view(raw, index, true) {
        Ok(view) => {
            let make = |view: &FindingView<'_>| schema.finding_from(view, raw.clone());
            (ctx.each)(&super::Item { view, make: &make });
            ctx.items += 1;
            Ok(())
        }
        Err(ItemProblem::Missing(key)) => Err(ReportError::MissingKey {
            source_name: source_name(),
            template: schema.template,
            index,
            key,
        }),
        Err(ItemProblem::WrongType { key, found }) => Err(ReportError::Item {
            source_name: source_name(),
            index,
            line: None,
            field: Some(key.to_string()),
            message: format!("expected a string (or null), found {found}"),
        }),
    }
}

/// The top-level object: `reportItems` is read item by item, anything else skipped.
struct Top<'s, 'c, 'a>(&'s mut State<'c, 'a>);

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    /// Whether `reportItems` was seen.
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object {\"reportItems\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        let meter = self.0.ctx.meter.clone();
        meter.mark(Region::TopLevel);
        while let Some(is_items) = map.next_key_seed(TopKey)? {
            if is_items {
                map.next_value_seed(Items(&mut *self.0))?;
                found = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
            meter.mark(Region::TopLevel);
        }
        Ok(found)
    }
}

/// A top-level key: `true` for `reportItems` (no allocation either way).
struct TopKey;

impl<'de> DeserializeSeed<'de> for TopKey {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TopKey {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == "reportItems")
    }
}

/// The `reportItems` array.
struct Items<'s, 'c, 'a>(&'s mut State<'c, 'a>);

impl<'de> DeserializeSeed<'de> for Items<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Items<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of report items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if std::mem::take(&mut self.0.skip_first) {
            seq.next_element::<IgnoredAny>()?;
        }
        loop {
            self.0.current = Some(self.0.ctx.items);
            self.0.ctx.meter.mark(Region::Item { line: None });
            if seq.next_element_seed(Item(&mut *self.0))?.is_none() {
                break;
            }
        }
        self.0.current = None;
        Ok(())
    }
}

/// One element of `reportItems`: read into a [`RawItem`], normalised, handed to `each`.
struct Item<'s, 'c, 'a>(&'s mut State<'c, 'a>);

impl<'de> DeserializeSeed<'de> for Item<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Item<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a report item (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut raw = std::mem::take(&mut self.0.raw);
        raw.clear();
        fill_raw(&mut map, &mut raw, &mut self.0.key_order)?;
        let result = self.0.item(&raw);
        self.0.raw = raw;
        result.map_err(|e| self.0.fail(e))
    }
}

/// Reads one item's keys and values into `raw` (cleared by the caller).
fn fill_raw<'de, A: MapAccess<'de>>(
    map: &mut A,
    raw: &mut RawItem,
    key_order: &mut KeyOrder,
) -> Result<(), A::Error> {
    // Known keys seen so far in this item, by known-key index: a duplicate key (rare, but
    // the later value must win) is spotted without comparing strings.
    let mut seen: u128 = 0;
    let mut position = 0;
    while let Some(key) = map.next_key_seed(KeySeed {
        order: key_order,
        position,
    })? {
        position += 1;
        if position > super::MAX_FIELDS {
            return Err(de::Error::custom(format!(
                "the item has more than {} keys (an Audit Manager item has about 20)",
                super::MAX_FIELDS
            )));
        }
        let (key, distinct) = match key {
            ItemKey::Known(k, i) if i < 128 => {
                let bit = 1u128 << i;
                let fresh = seen & bit == 0;
                seen |= bit;
                (FieldKey::Static(k), fresh)
            }
            ItemKey::Known(k, _) => (FieldKey::Static(k), false),
            // Never equal to a known key (those are interned), so only other unknown keys
            // can clash.
            ItemKey::Other(k) => (FieldKey::Other(k), false),
        };
        map.next_value_seed(FieldSeed {
            raw: &mut *raw,
            key,
            distinct,
        })?;
    }
    Ok(())
}

/// Reads one item given as its own bytes (exactly one JSON object) into `raw` (cleared
/// first), as the streaming reader reads an element of `reportItems`.
pub(super) fn item_from_slice(
    bytes: &[u8],
    raw: &mut RawItem,
    key_order: &mut KeyOrder,
) -> Result<(), serde_json::Error> {
    raw.clear();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.deserialize_map(RawSeed { raw, key_order })?;
    de.end()
}

/// An item object read into a [`RawItem`], nothing handed on.
struct RawSeed<'r> {
    raw: &'r mut RawItem,
    key_order: &'r mut KeyOrder,
}

impl<'de> Visitor<'de> for RawSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a report item (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        fill_raw(&mut map, self.raw, self.key_order)
    }
}

/// Where a field's value goes in the item.
enum FieldKey {
    Static(&'static str),
    Other(Box<str>),
}

/// One field value: a string is appended to the item's text buffer (no `Value`, no allocation
/// of its own); anything else becomes a `serde_json::Value` as before.
struct FieldSeed<'r> {
    raw: &'r mut RawItem,
    key: FieldKey,
    /// The key is known not to be in the item yet.
    distinct: bool,
}

impl FieldSeed<'_> {
    fn put_text(self, text: &str) {
        match self.key {
            FieldKey::Static(k) if self.distinct => self.raw.push_text_static(k, text, Kind::Text),
            FieldKey::Static(k) => self.raw.insert_text_static(k, text),
            FieldKey::Other(k) => self.raw.insert_text(k, text),
        }
    }

    fn put_value(self, value: Value) {
        match self.key {
            FieldKey::Static(k) if self.distinct => self.raw.push_distinct_static(k, value),
            FieldKey::Static(k) => self.raw.insert_static(k, value),
            FieldKey::Other(k) => self.raw.insert(k, value),
        }
    }
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.put_text(v);
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.put_value(Value::Bool(v));
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.put_value(Value::from(v));
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.put_value(Value::from(v));
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        // As serde_json's own `Value`: a non-finite float is `null`.
        self.put_value(Value::from(v));
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.put_value(Value::Null);
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.put_value(Value::Null);
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let value = Value::deserialize(d)?;
        self.put_value(value);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let value = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        self.put_value(value);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        self.put_value(value);
        Ok(())
    }
}

enum ItemKey {
    /// A known key and its index among the known keys.
    Known(&'static str, usize),
    Other(Box<str>),
}

/// An item key, interned when known (no allocation per item for the fields AWS writes).
struct KeySeed<'o> {
    order: &'o mut KeyOrder,
    position: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ItemKey;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ItemKey, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = ItemKey;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ItemKey, E> {
        if let Some(Some((k, i))) = self.order.get(self.position)
            && *k == v
        {
            return Ok(ItemKey::Known(k, *i));
        }
        let known = schema::known_key(v);
        if self.order.len() <= self.position {
            self.order.resize(self.position + 1, None);
        }
        self.order[self.position] = known;
        Ok(match known {
            Some((k, i)) => ItemKey::Known(k, i),
            None => ItemKey::Other(v.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::report::{ReportError, read_report};
    use crate::{Finding, ReportTemplate};

    fn read(json: &str) -> Result<Vec<Finding>, ReportError> {
        let mut out = Vec::new();
        read_report(json.as_bytes(), "t.json", None, &mut |f| out.push(f))?;
        Ok(out)
    }

    #[test]
    fn reads_items_and_skips_other_top_level_keys() {
        let json = r#"{"version": {"a": [1, 2]}, "reportItems": [
            {"accountId": "1", "region": "r", "backupJobId": "j", "jobStatus": "FAILED",
             "extra": {"nested": true}}
        ], "trailer": null}"#;
        let f = read(json).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].report, ReportTemplate::BackupJob);
        assert_eq!(f[0].status.as_deref(), Some("FAILED"));
        assert_eq!(
            f[0].fields.get("extra"),
            Some(&serde_json::json!({"nested": true}))
        );
    }

    #[test]
    fn duplicate_key_keeps_the_later_value() {
        let f = read(
            r#"{"reportItems":[{"accountId":"1","accountId":"2","region":"r","scanJobId":"s","jobStatus":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(f[0].account.as_deref(), Some("2"));
        assert_eq!(f[0].fields.len(), 4);
    }

    #[test]
    fn key_order_may_change_between_items() {
        let f = read(
            r#"{"reportItems":[
                {"accountId":"1","region":"r","copyJobId":"c","jobStatus":"A"},
                {"jobStatus":"B","odd":"x","accountId":"2","copyJobId":"d","region":"s","jobStatus":"C"},
                {"accountId":"3","odd":"y","region":"t","copyJobId":"e","jobStatus":"D"}
            ]}"#,
        )
        .unwrap();
        let got: Vec<_> = f
            .iter()
            .map(|f| {
                (
                    f.account.as_deref().unwrap(),
                    f.region.as_deref().unwrap(),
                    f.job_id.as_deref().unwrap(),
                    f.status.as_deref().unwrap(),
                    f.fields.get_str("odd"),
                    f.fields.len(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("1", "r", "c", "A", None, 4),
                ("2", "s", "d", "C", Some("x"), 5),
                ("3", "t", "e", "D", Some("y"), 5),
            ]
        );
    }

    #[test]
    fn item_that_is_not_an_object_is_a_positioned_error() {
        let e = read(r#"{"reportItems": [1]}"#).unwrap_err();
        let s = e.to_string();
        assert!(matches!(e, ReportError::Parse { line: 1, .. }), "{s}");
        assert!(
            s.contains("expected a report item") && s.contains("item 0"),
            "{s}"
        );
    }
}
