//! PyYAML's emitter, for the documents patronictl dumps: `safe_dump` in block or flow style, keys
//! sorted, width 200, `allow_unicode`, each scalar plain, single- or double-quoted as PyYAML's
//! `analyze_scalar` decides.

use super::{float_repr, plain_is_not_str, Doc};

/// What PyYAML's `analyze_scalar` decides about a string.
struct Analysis {
    empty: bool,
    multiline: bool,
    flow_plain: bool,
    block_plain: bool,
    single_quoted: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_space_or_break(c: Option<char>) -> bool {
    matches!(c, None | Some('\0' | ' ' | '\t' | '\r')) || c.is_some_and(is_break)
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            flow_plain: false,
            block_plain: true,
            single_quoted: true,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let (mut block_ind, mut flow_ind) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_by_ws = true;
    for i in 0..n {
        let ch = chars[i];
        let followed_by_ws = i + 1 >= n || is_space_or_break(Some(chars[i + 1]));
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                flow_ind = true;
                block_ind = true;
            }
            if ch == '?' || ch == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if ch == '-' && followed_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        } else {
            if ",?[]{}".contains(ch) {
                flow_ind = true;
            }
            if ch == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if ch == '#' && preceded_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='~').contains(&ch)) {
            let printable_unicode = (ch == '\u{85}'
                || ('\u{a0}'..='\u{d7ff}').contains(&ch)
                || ('\u{e000}'..='\u{fffd}').contains(&ch)
                || ('\u{10000}'..'\u{10ffff}').contains(&ch))
                && ch != '\u{feff}';
            // allow_unicode=True: printable non-ASCII is written as is.
            if !printable_unicode {
                special = true;
            }
        }
        if ch == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == n - 1 {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(ch) {
            if i == 0 {
                leading_break = true;
            }
            if i == n - 1 {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = is_space_or_break(Some(ch));
    }
    let mut a = Analysis {
        empty: false,
        multiline: line_breaks,
        flow_plain: true,
        block_plain: true,
        single_quoted: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if break_space {
        a.flow_plain = false;
        a.block_plain = false;
        a.single_quoted = false;
    }
    if space_break || special {
        a.flow_plain = false;
        a.block_plain = false;
        a.single_quoted = false;
    }
    if line_breaks {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if flow_ind {
        a.flow_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    a
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// PyYAML's `safe_dump(value, default_flow_style=flow, allow_unicode=True, width=200)`: what
/// patronictl prints for `show-config`, `-f yaml` and the Tags cells.
pub fn py_yaml(d: &Doc, flow: bool) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        flow_level: 0,
    };
    let is_collection =
        matches!(d, Doc::List(l) if !l.is_empty()) || matches!(d, Doc::Map(m) if !m.is_empty());
    if flow || !is_collection {
        let style = e.node(d, None, flow, false);
        e.line_break();
        // A plain scalar at the root leaves the document open: PyYAML closes it with `...`.
        if style == Some(Style::Plain) && !is_collection {
            e.out.push_str("...\n");
        }
    } else {
        e.node(d, Some(0), false, false);
        e.line_break();
    }
    e.out
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    flow_level: usize,
}

const WIDTH: usize = 200;

impl Emitter {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }

    fn line_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.whitespace = true;
        self.indention = true;
    }

    fn indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.line_break();
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.write(&pad);
        }
    }

    /// Writes an indicator (`-`, `:`, `,`, `{`…) with a space before it when asked and needed.
    fn indicator(&mut self, ind: &str, need_ws: bool, whitespace: bool, indention: bool) {
        if self.whitespace || !need_ws {
            self.write(ind);
        } else {
            self.write(&format!(" {ind}"));
        }
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
    }

    /// Emits one node. `block_indent` is the indentation of a block collection (None in flow
    /// context). Returns the scalar style used, for scalars.
    fn node(
        &mut self,
        d: &Doc,
        block_indent: Option<usize>,
        flow: bool,
        simple_key: bool,
    ) -> Option<Style> {
        match d {
            Doc::List(l) if !l.is_empty() && !flow && self.flow_level == 0 => {
                self.block_seq(l, block_indent.unwrap_or(0));
                None
            }
            Doc::Map(m) if !m.is_empty() && !flow && self.flow_level == 0 => {
                self.block_map(m, block_indent.unwrap_or(0));
                None
            }
            Doc::List(l) => {
                self.flow_seq(l, block_indent.unwrap_or(0));
                None
            }
            Doc::Map(m) => {
                self.flow_map(m, block_indent.unwrap_or(0));
                None
            }
            scalar => Some(self.scalar(scalar, block_indent.unwrap_or(0), simple_key)),
        }
    }

    fn block_seq(&mut self, items: &[Doc], indent: usize) {
        for item in items {
            self.indent(indent);
            self.indicator("-", true, false, true);
            self.child(item, indent + 2, false);
        }
    }

    fn block_map(&mut self, entries: &[(String, Doc)], indent: usize) {
        let mut sorted: Vec<&(String, Doc)> = entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in sorted {
            self.indent(indent);
            self.scalar(&Doc::Str(k.clone()), indent + 2, true);
            self.indicator(":", false, false, false);
            match v {
                // A list under a key is not indented further (PyYAML's indentless sequence).
                Doc::List(l) if !l.is_empty() => self.block_seq(l, indent),
                Doc::Map(m) if !m.is_empty() => self.block_map(m, indent + 2),
                scalar => {
                    self.node(scalar, Some(indent + 2), false, false);
                }
            }
        }
    }

    /// A node inside a block sequence item: a mapping or sequence starts on the `- ` line.
    fn child(&mut self, d: &Doc, indent: usize, _flow: bool) {
        match d {
            Doc::List(l) if !l.is_empty() => self.block_seq(l, indent),
            Doc::Map(m) if !m.is_empty() => self.block_map(m, indent),
            scalar => {
                self.node(scalar, Some(indent), false, false);
            }
        }
    }

    fn flow_seq(&mut self, items: &[Doc], indent: usize) {
        self.indicator("[", true, true, false);
        self.flow_level += 1;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.indicator(",", false, false, false);
            }
            if self.column > WIDTH {
                self.indent(indent + 2);
            }
            self.node(item, Some(indent + 2), true, false);
        }
        self.flow_level -= 1;
        self.indicator("]", false, false, false);
    }

    fn flow_map(&mut self, entries: &[(String, Doc)], indent: usize) {
        self.indicator("{", true, true, false);
        self.flow_level += 1;
        let mut sorted: Vec<&(String, Doc)> = entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (k, v)) in sorted.into_iter().enumerate() {
            if i > 0 {
                self.indicator(",", false, false, false);
            }
            if self.column > WIDTH {
                self.indent(indent + 2);
            }
            self.scalar(&Doc::Str(k.clone()), indent + 2, true);
            self.indicator(":", false, false, false);
            self.node(v, Some(indent + 2), true, false);
        }
        self.flow_level -= 1;
        self.indicator("}", false, false, false);
    }

    fn scalar(&mut self, d: &Doc, indent: usize, simple_key: bool) -> Style {
        let (text, is_str) = match d {
            Doc::Null => ("null".to_string(), false),
            Doc::Bool(b) => (if *b { "true" } else { "false" }.to_string(), false),
            Doc::Int(i) => (i.to_string(), false),
            Doc::Float(f) => (
                match float_repr(*f).as_str() {
                    "nan" => ".nan".to_string(),
                    "inf" => ".inf".to_string(),
                    "-inf" => "-.inf".to_string(),
                    s if !s.contains('.') && s.contains('e') => s.replacen('e', ".0e", 1),
                    s => s.to_string(),
                },
                false,
            ),
            Doc::Str(s) => (s.clone(), true),
            Doc::List(_) | Doc::Map(_) => unreachable!("collections are not scalars"),
        };
        let a = analyze(&text);
        let implicit_plain = !is_str || !plain_is_not_str(&text);
        let style = if implicit_plain
            && !(simple_key && (a.empty || a.multiline))
            && ((self.flow_level > 0 && a.flow_plain) || (self.flow_level == 0 && a.block_plain))
        {
            Style::Plain
        } else if a.single_quoted && !(simple_key && a.multiline) {
            Style::Single
        } else {
            Style::Double
        };
        let split = !simple_key;
        match style {
            Style::Plain => self.plain(&text, indent, split),
            Style::Single => self.single_quoted(&text, indent, split),
            Style::Double => self.double_quoted(&text),
        }
        style
    }

    fn plain(&mut self, text: &str, indent: usize, split: bool) {
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let chars: Vec<char> = text.chars().collect();
        let mut start = 0;
        let mut spaces = false;
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > WIDTH && split {
                        self.indent(indent);
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        let s: String = chars[start..end].iter().collect();
                        self.write(&s);
                    }
                    start = end;
                }
            } else if ch.is_none() || ch == Some(' ') {
                let s: String = chars[start..end].iter().collect();
                self.write(&s);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
            }
        }
    }

    fn single_quoted(&mut self, text: &str, indent: usize, split: bool) {
        self.indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > WIDTH
                        && split
                        && start != 0
                        && end != chars.len()
                    {
                        self.indent(indent);
                    } else {
                        let s: String = chars[start..end].iter().collect();
                        self.write(&s);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if chars[start] == '\n' {
                        self.line_break();
                    }
                    for br in &chars[start..end] {
                        if *br == '\n' {
                            self.line_break();
                        } else {
                            self.out.push(*br);
                            self.column = 0;
                            self.whitespace = true;
                            self.indention = true;
                        }
                    }
                    self.indent(indent);
                    start = end;
                }
            } else if ch.is_none()
                || ch == Some(' ')
                || ch.is_some_and(is_break)
                || ch == Some('\'')
            {
                if start < end {
                    let s: String = chars[start..end].iter().collect();
                    self.write(&s);
                    start = end;
                }
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
        }
        self.indicator("'", false, false, false);
    }

    fn double_quoted(&mut self, text: &str) {
        self.indicator("\"", true, false, false);
        let mut s = String::new();
        for c in text.chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\0' => s.push_str("\\0"),
                '\u{7}' => s.push_str("\\a"),
                '\u{8}' => s.push_str("\\b"),
                '\t' => s.push_str("\\t"),
                '\n' => s.push_str("\\n"),
                '\u{b}' => s.push_str("\\v"),
                '\u{c}' => s.push_str("\\f"),
                '\r' => s.push_str("\\r"),
                '\u{1b}' => s.push_str("\\e"),
                '\u{85}' => s.push_str("\\N"),
                '\u{a0}' => s.push_str("\\_"),
                '\u{2028}' => s.push_str("\\L"),
                '\u{2029}' => s.push_str("\\P"),
                c if (' '..='~').contains(&c) => s.push(c),
                c if (('\u{a0}'..='\u{d7ff}').contains(&c)
                    || ('\u{e000}'..='\u{fffd}').contains(&c)
                    || ('\u{10000}'..'\u{10ffff}').contains(&c))
                    && c != '\u{feff}' =>
                {
                    s.push(c)
                }
                c if (c as u32) <= 0xff => s.push_str(&format!("\\x{:02X}", c as u32)),
                c if (c as u32) <= 0xffff => s.push_str(&format!("\\u{:04X}", c as u32)),
                c => s.push_str(&format!("\\U{:08X}", c as u32)),
            }
        }
        self.write(&s);
        self.indicator("\"", false, false, false);
    }
}
