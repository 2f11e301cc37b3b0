//! Block Kit building for Slack: escaping, turning rendered mrkdwn into blocks, splitting long
//! sections and packing blocks into messages within Slack's limits.
//!
//! The Slack template renders *mrkdwn text*; this module turns it into blocks by a small,
//! documented convention:
//! - paragraphs are separated by blank lines; each paragraph becomes one `section` block;
//! - a paragraph that is exactly `---` becomes a `divider` block;
//! - a section longer than the section limit is split at line boundaries (and a single overlong
//!   line at a character boundary that does not cut an `&entity;` or a `<link|…>`).

use serde_json::{Value, json};

/// Slack's limits for one message posted through an incoming webhook, as data. The documented
/// ones (Block Kit reference: blocks, section, context, header) and the undocumented cumulative
/// one: Slack answers `msg_blocks_too_long` when the text of all blocks of one message together
/// passes about 12 000 characters (slackapi/bolt-js #2509 measured 13 297 with markdown blocks;
/// #2867 was refused at 11 341 as it counted; Slack staff quoted "12,000 text characters with a
/// buffer for block containers"). The renderer keeps every message within all of them, and
/// [`check_message`] checks each one before it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlackLimits {
    /// Blocks per message (50).
    pub max_blocks: usize,
    /// Characters of a section's `text` (3 000).
    pub max_section_chars: usize,
    /// Items of a section's `fields` (10).
    pub max_fields: usize,
    /// Characters of one `fields` item (2 000).
    pub max_field_chars: usize,
    /// Characters of a `header` block's plain text (150).
    pub max_header_chars: usize,
    /// Elements of a `context` block (10).
    pub max_context_elements: usize,
    /// Characters of all text strings in the blocks of one message, counted as sent (escapes
    /// and link markup included). Default 10 000, under the ~11 300 where Slack was seen to
    /// refuse; the `max_block_chars` setting changes it.
    pub max_block_chars: usize,
    /// Characters of the top-level `text`: the notification preview and the fallback of clients
    /// without blocks, so a short summary line (150).
    pub max_fallback_chars: usize,
}

/// The default of the `max_block_chars` setting.
pub const DEFAULT_MAX_BLOCK_CHARS: usize = 10_000;

impl Default for SlackLimits {
    fn default() -> Self {
        SlackLimits {
            max_blocks: 50,
            max_section_chars: 3000,
            max_fields: 10,
            max_field_chars: 2000,
            max_header_chars: 150,
            max_context_elements: 10,
            max_block_chars: DEFAULT_MAX_BLOCK_CHARS,
            max_fallback_chars: 150,
        }
    }
}

/// Why `blocks` (one message) breaks one of `limits`, if it does: the last check before a
/// message is sent, so a renderer bug becomes a clear error instead of Slack's bare 400. The
/// blocks are checked as they are sent ([`Block::to_json`], by [`check_blocks`]).
pub fn check_message(blocks: &[Block], limits: &SlackLimits) -> Result<(), String> {
    let json: Vec<Value> = blocks.iter().map(Block::to_json).collect();
    check_blocks(&json, limits)
}

/// [`check_message`] over the Block Kit JSON of one message's `blocks`: every limit of
/// [`SlackLimits`], for every kind of block they name — `section` (`text`, and `fields`: at most
/// 10 of at most 2 000 characters), `header` (plain text of at most 150 characters), `context`
/// (at most 10 elements) and `divider` — whatever built the JSON. Any other kind of block is an
/// error: this sink sends no other.
pub fn check_blocks(blocks: &[Value], limits: &SlackLimits) -> Result<(), String> {
    if blocks.is_empty() {
        return Err("a message without blocks".into());
    }
    if blocks.len() > limits.max_blocks {
        return Err(format!(
            "{} blocks, over Slack's {}",
            blocks.len(),
            limits.max_blocks
        ));
    }
    let mut total = 0usize;
    for (i, b) in blocks.iter().enumerate() {
        total += check_block(i + 1, b, limits)?;
    }
    if total > limits.max_block_chars {
        return Err(format!(
            "{total} characters of block text, over the {} of max_block_chars",
            limits.max_block_chars
        ));
    }
    Ok(())
}

/// Checks block number `n` against `limits`; its characters of text when it passes.
fn check_block(n: usize, b: &Value, limits: &SlackLimits) -> Result<usize, String> {
    // Characters of a text object's `text` (a missing one counts as empty).
    let chars = |t: &Value| t["text"].as_str().map_or(0, |s| s.chars().count());
    let within = |what: &str, c: usize, max: usize| {
        if c > max {
            Err(format!("block {n}{what} has {c} characters, over {max}"))
        } else {
            Ok(c)
        }
    };
    let no_text = || Err(format!("block {n} has no text"));
    match b["type"].as_str().unwrap_or("") {
        "divider" => Ok(0),
        "section" => {
            let fields: &[Value] = b["fields"].as_array().map_or(&[], Vec::as_slice);
            if fields.len() > limits.max_fields {
                return Err(format!(
                    "block {n} has {} fields, over Slack's {}",
                    fields.len(),
                    limits.max_fields
                ));
            }
            let mut total = within("", chars(&b["text"]), limits.max_section_chars)?;
            for (j, f) in fields.iter().enumerate() {
                total += within(
                    &format!(", field {}", j + 1),
                    chars(f),
                    limits.max_field_chars,
                )?;
            }
            let blank = |t: &Value| t["text"].as_str().is_none_or(|s| s.trim().is_empty());
            if blank(&b["text"]) && fields.iter().all(blank) {
                return no_text();
            }
            Ok(total)
        }
        "header" => {
            let c = within(" (header)", chars(&b["text"]), limits.max_header_chars)?;
            if c == 0 { no_text() } else { Ok(c) }
        }
        "context" => {
            let elements: &[Value] = b["elements"].as_array().map_or(&[], Vec::as_slice);
            if elements.len() > limits.max_context_elements {
                return Err(format!(
                    "block {n} has {} context elements, over Slack's {}",
                    elements.len(),
                    limits.max_context_elements
                ));
            }
            let mut total = 0;
            for e in elements {
                // One mrkdwn element; a text object holds at most what a section's text does.
                total += within("", chars(e), limits.max_section_chars)?;
            }
            let blank = |e: &Value| e["text"].as_str().is_none_or(|s| s.trim().is_empty());
            if elements.iter().all(blank) {
                return no_text();
            }
            Ok(total)
        }
        other => Err(format!(
            "block {n} is of type {other:?}; this sink sends section, header, context and \
             divider blocks"
        )),
    }
}

/// Escapes the three characters Slack's mrkdwn treats as control characters, so a value from a
/// report (e.g. a resource named `<!channel>`) shows as text and never mentions or links anyone.
pub use audit_router_sink_api::template::slack_escape as escape;

/// A Slack link `<url|text>`: the URL has the characters that would end or split the link
/// percent-encoded, the text is escaped.
pub fn link(url: &str, text: &str) -> String {
    let mut u = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '|' => u.push_str("%7C"),
            '<' => u.push_str("%3C"),
            '>' => u.push_str("%3E"),
            ' ' => u.push_str("%20"),
            '&' => u.push_str("&amp;"),
            c if c.is_control() => {}
            c => u.push(c),
        }
    }
    // `|` in the text would not break the link but `>` would: escape() handles it.
    format!("<{u}|{}>", escape(text))
}

/// One Block Kit block we produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// A `section` with `mrkdwn` text (already escaped).
    Section(String),
    /// A `context` block with one `mrkdwn` element.
    Context(String),
    Divider,
}

impl Block {
    /// Characters of text this block carries (for the per-message budget).
    pub fn chars(&self) -> usize {
        match self {
            Block::Section(t) | Block::Context(t) => t.chars().count(),
            Block::Divider => 0,
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Block::Section(t) => json!({"type": "section", "text": {"type": "mrkdwn", "text": t}}),
            Block::Context(t) => {
                json!({"type": "context", "elements": [{"type": "mrkdwn", "text": t}]})
            }
            Block::Divider => json!({"type": "divider"}),
        }
    }

    /// The text of the block, for the fallback `text`.
    pub fn text(&self) -> Option<&str> {
        match self {
            Block::Section(t) | Block::Context(t) => Some(t),
            Block::Divider => None,
        }
    }
}

/// Turns rendered mrkdwn into blocks (see the module docs for the convention). Empty input gives
/// no blocks.
pub fn parse_blocks(rendered: &str, max_section_chars: usize) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, blocks: &mut Vec<Block>| {
        if para.is_empty() {
            return;
        }
        if para.len() == 1 && para[0].trim() == "---" {
            blocks.push(Block::Divider);
        } else {
            for chunk in split_section(para, max_section_chars) {
                blocks.push(Block::Section(chunk));
            }
        }
        para.clear();
    };
    for line in rendered.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            flush(&mut para, &mut blocks);
        } else {
            para.push(line);
        }
    }
    flush(&mut para, &mut blocks);
    blocks
}

/// Joins lines into chunks of at most `max` characters, breaking between lines where possible.
fn split_section(lines: &[&str], max: usize) -> Vec<String> {
    let max = max.max(16);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_chars = 0usize;
    for line in lines {
        let n = line.chars().count();
        let sep = usize::from(!cur.is_empty());
        if cur_chars + sep + n <= max {
            if sep == 1 {
                cur.push('\n');
            }
            cur.push_str(line);
            cur_chars += sep + n;
            continue;
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
            cur_chars = 0;
        }
        if n <= max {
            cur.push_str(line);
            cur_chars = n;
        } else {
            let mut pieces = split_long_line(line, max);
            // Keep the last piece open so following lines can join it.
            if let Some(last) = pieces.pop() {
                out.extend(pieces);
                cur_chars = last.chars().count();
                cur = last;
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits one line into pieces of at most `max` characters without cutting an `&entity;` or a
/// `<…>` link/mention (unless one alone is longer than `max`).
fn split_long_line(line: &str, max: usize) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut start = 0usize;
    while chars.len() - start > max {
        let mut end = start + max;
        // Back off to before an unterminated `&…` or `<…` that spans the cut.
        let window = &chars[start..end];
        let last_amp = window.iter().rposition(|&c| c == '&');
        let last_semi = window.iter().rposition(|&c| c == ';');
        if let Some(a) = last_amp
            && last_semi.is_none_or(|s| s < a)
            && a > 0
        {
            end = start + a;
        }
        let window = &chars[start..end];
        let last_lt = window.iter().rposition(|&c| c == '<');
        let last_gt = window.iter().rposition(|&c| c == '>');
        if let Some(l) = last_lt
            && last_gt.is_none_or(|g| g < l)
            && l > 0
        {
            end = start + l;
        }
        out.push(chars[start..end].iter().collect());
        start = end;
    }
    out.push(chars[start..].iter().collect());
    out
}

/// Packs blocks into messages of at most `max_blocks` blocks and `max_chars` characters of text
/// each, keeping room in every message for `reserve_blocks` more blocks of `reserve_chars`
/// characters in all (a "part i/n" line). Dividers are not carried to the start of a message.
pub fn pack(
    blocks: &[Block],
    max_blocks: usize,
    max_chars: usize,
    reserve_blocks: usize,
    reserve_chars: usize,
) -> Vec<Vec<Block>> {
    let cap = max_blocks.saturating_sub(reserve_blocks).max(1);
    let max_chars = max_chars.saturating_sub(reserve_chars);
    let mut out: Vec<Vec<Block>> = Vec::new();
    let mut cur: Vec<Block> = Vec::new();
    let mut chars = 0usize;
    for b in blocks {
        if cur.is_empty() && *b == Block::Divider && !out.is_empty() {
            continue;
        }
        let n = b.chars();
        if !cur.is_empty() && (cur.len() >= cap || chars + n > max_chars) {
            // Never end a message on a divider.
            if cur.last() == Some(&Block::Divider) {
                cur.pop();
            }
            out.push(std::mem::take(&mut cur));
            chars = 0;
            if *b == Block::Divider {
                continue;
            }
        }
        chars += n;
        cur.push(b.clone());
    }
    if cur.last() == Some(&Block::Divider) {
        cur.pop();
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Cuts `s` to at most `max` characters, ending with `…` when cut, without cutting an entity.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut pieces = split_long_line(s, max.saturating_sub(1).max(1));
    let mut first = if pieces.is_empty() {
        String::new()
    } else {
        pieces.swap_remove(0)
    };
    first.push('…');
    first
}

/// The Slack webhook body for one message: blocks plus the fallback `text` shown in
/// notifications and by clients that cannot show blocks.
pub fn message_json(fallback: &str, blocks: &[Block]) -> Value {
    json!({
        "text": fallback,
        "blocks": blocks.iter().map(Block::to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_mentions_and_links() {
        assert_eq!(
            escape("<!channel> & <@U123>"),
            "&lt;!channel&gt; &amp; &lt;@U123&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn link_encodes_separators() {
        assert_eq!(
            link("https://x.test/a?b=1&c=|d", "a<b>"),
            "<https://x.test/a?b=1&amp;c=%7Cd|a&lt;b&gt;>"
        );
    }

    #[test]
    fn parses_paragraphs_and_dividers() {
        let b = parse_blocks("*Title*\nline 2\n\n---\n\n\nnext\n", 3000);
        assert_eq!(
            b,
            vec![
                Block::Section("*Title*\nline 2".into()),
                Block::Divider,
                Block::Section("next".into())
            ]
        );
    }

    #[test]
    fn long_sections_split_on_lines_within_limit() {
        let line = "x".repeat(40);
        let text = vec![line.as_str(); 200].join("\n");
        let b = parse_blocks(&text, 3000);
        assert!(b.len() > 2);
        for block in &b {
            assert!(block.chars() <= 3000, "{}", block.chars());
        }
        let total: usize = b
            .iter()
            .map(|b| b.text().unwrap().matches('x').count())
            .sum();
        assert_eq!(total, 40 * 200);
    }

    #[test]
    fn overlong_line_split_does_not_cut_entities() {
        let line = "ab&amp;".repeat(1000); // 7000 chars
        let pieces = split_long_line(&line, 3000);
        assert!(pieces.len() >= 3);
        for p in &pieces {
            assert!(p.chars().count() <= 3000);
            // Every `&` in a piece is a whole entity.
            assert_eq!(p.matches('&').count(), p.matches("&amp;").count(), "{p}");
        }
        assert_eq!(pieces.concat(), line);
    }

    #[test]
    fn overlong_line_split_does_not_cut_links() {
        let line = format!(
            "{}<https://example.test/{}|link>",
            "a".repeat(2990),
            "b".repeat(30)
        );
        let pieces = split_long_line(&line, 3000);
        assert_eq!(pieces.len(), 2);
        assert!(pieces[1].starts_with("<https://"));
    }

    #[test]
    fn pack_respects_block_and_char_budgets() {
        let blocks: Vec<Block> = (0..120).map(|i| Block::Section(format!("s{i}"))).collect();
        let msgs = pack(&blocks, 50, 40_000, 1, 0);
        assert_eq!(
            msgs.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![49, 49, 22]
        );
        let big: Vec<Block> = (0..5).map(|_| Block::Section("y".repeat(3000))).collect();
        let msgs = pack(&big, 50, 7000, 0, 0);
        assert_eq!(msgs.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
    }

    #[test]
    fn pack_keeps_room_for_the_part_line() {
        let blocks: Vec<Block> = (0..10).map(|_| Block::Section("z".repeat(900))).collect();
        // 10 000 characters a message, 150 kept for the part line: all 10 sections (9 000) fit.
        assert_eq!(pack(&blocks, 50, 10_000, 1, 150).len(), 1);
        // 1 000 kept: 9 000 left, exactly the 10 sections; one character more kept and they
        // need two messages.
        assert_eq!(pack(&blocks, 50, 10_000, 1, 1_000).len(), 1);
        assert_eq!(pack(&blocks, 50, 10_000, 1, 1_001).len(), 2);
    }

    #[test]
    fn check_message_names_the_limit_broken() {
        let l = SlackLimits::default();
        let ok = vec![Block::Section("a".into()), Block::Divider];
        assert!(check_message(&ok, &l).is_ok());
        let many: Vec<Block> = (0..51).map(|_| Block::Section("a".into())).collect();
        assert!(check_message(&many, &l).unwrap_err().contains("51 blocks"));
        let long = vec![Block::Section("a".repeat(3001))];
        assert!(
            check_message(&long, &l)
                .unwrap_err()
                .contains("3001 characters")
        );
        let total: Vec<Block> = (0..4).map(|_| Block::Section("a".repeat(2600))).collect();
        let e = check_message(&total, &l).unwrap_err();
        assert!(e.contains("10400 characters of block text"), "{e}");
        assert!(check_message(&[], &l).is_err());
        assert!(check_message(&[Block::Context(" ".into())], &l).is_err());
    }

    fn mrkdwn(text: &str) -> Value {
        json!({"type": "mrkdwn", "text": text})
    }

    #[test]
    fn section_fields_are_at_most_10_of_2000_characters() {
        let l = SlackLimits::default();
        let section = |fields: Vec<Value>| json!({"type": "section", "fields": fields});
        // 20 000 characters: within the fields' limits, over the default block-text budget.
        let ten = section((0..10).map(|_| mrkdwn(&"f".repeat(2000))).collect());
        let roomy = SlackLimits {
            max_block_chars: 40_000,
            ..l
        };
        assert!(check_blocks(std::slice::from_ref(&ten), &roomy).is_ok());
        assert!(
            check_blocks(&[ten], &l)
                .unwrap_err()
                .contains("20000 characters")
        );
        let eleven = section((0..11).map(|_| mrkdwn("f")).collect());
        let e = check_blocks(&[eleven], &l).unwrap_err();
        assert_eq!(e, "block 1 has 11 fields, over Slack's 10");
        let long = section(vec![mrkdwn("a"), mrkdwn(&"f".repeat(2001))]);
        let e = check_blocks(&[json!({"type": "divider"}), long], &l).unwrap_err();
        assert_eq!(e, "block 2, field 2 has 2001 characters, over 2000");
        // Text and fields together: both within their limits, all counted in the budget.
        let both = json!({"type": "section", "text": mrkdwn("title"), "fields": [mrkdwn("x")]});
        assert!(check_blocks(&[both], &l).is_ok());
        let blank = section(vec![mrkdwn(" ")]);
        assert_eq!(
            check_blocks(&[blank], &l).unwrap_err(),
            "block 1 has no text"
        );
        let heavy: Vec<Value> = (0..6)
            .map(|_| section((0..2).map(|_| mrkdwn(&"f".repeat(1000))).collect()))
            .collect();
        let e = check_blocks(&heavy, &l).unwrap_err();
        assert!(e.contains("12000 characters of block text"), "{e}");
    }

    #[test]
    fn header_text_is_at_most_150_characters() {
        let l = SlackLimits::default();
        let header = |t: &str| json!({"type": "header", "text": {"type": "plain_text", "text": t}});
        assert!(check_blocks(&[header(&"h".repeat(150))], &l).is_ok());
        let e = check_blocks(&[header(&"h".repeat(151))], &l).unwrap_err();
        assert_eq!(e, "block 1 (header) has 151 characters, over 150");
        assert_eq!(
            check_blocks(&[header("")], &l).unwrap_err(),
            "block 1 has no text"
        );
    }

    #[test]
    fn context_has_at_most_10_elements() {
        let l = SlackLimits::default();
        let context = |n: usize| json!({"type": "context", "elements": (0..n).map(|i| mrkdwn(&format!("e{i}"))).collect::<Vec<_>>()});
        assert!(check_blocks(&[context(10)], &l).is_ok());
        let e = check_blocks(&[context(11)], &l).unwrap_err();
        assert_eq!(e, "block 1 has 11 context elements, over Slack's 10");
        let long = json!({"type": "context", "elements": [mrkdwn("a"), mrkdwn(&"c".repeat(3001))]});
        let e = check_blocks(&[long], &l).unwrap_err();
        assert_eq!(e, "block 1 has 3001 characters, over 3000");
        assert!(check_blocks(&[context(0)], &l).is_err());
    }

    #[test]
    fn blocks_of_other_kinds_are_refused() {
        let l = SlackLimits::default();
        let e = check_blocks(
            &[json!({"type": "image", "image_url": "https://x.test/a.png"})],
            &l,
        )
        .unwrap_err();
        assert!(e.contains("\"image\""), "{e}");
    }

    #[test]
    fn pack_drops_dividers_at_message_edges() {
        let blocks = vec![
            Block::Section("a".into()),
            Block::Divider,
            Block::Section("b".into()),
            Block::Divider,
            Block::Section("c".into()),
        ];
        let msgs = pack(&blocks, 2, 1000, 0, 0);
        for m in &msgs {
            assert_ne!(m.first(), Some(&Block::Divider));
            assert_ne!(m.last(), Some(&Block::Divider));
        }
        let texts: Vec<_> = msgs
            .concat()
            .iter()
            .filter_map(|b| b.text().map(String::from))
            .collect();
        assert_eq!(texts, vec!["a", "b", "c"]);
    }

    #[test]
    fn truncate_chars_marks_the_cut() {
        assert_eq!(truncate_chars("hello", 10), "hello");
        let t = truncate_chars(&"é".repeat(50), 10);
        assert_eq!(t.chars().count(), 10);
        assert!(t.ends_with('…'));
    }
}
