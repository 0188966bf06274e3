//! The table drawing every command shares: patronictl's `print_output` (a table as a PrettyTable
//! box, TSV, or a JSON / YAML list of objects; the members table's own adjustments included) and
//! the box itself ([`table_box`], and [`pretty_table`] for callers outside praetorctl).

use super::{pyfmt, Doc, Style};

/// Draws a PrettyTable box as patronictl does: `+---+` rules, cells padded by one space, columns
/// left-aligned except those named in `right`, one rule under the header, a rule between rows
/// when `all_rules` (patronictl asks for it when a cell has several lines), and `title` written
/// over the top border after its first `+` (cut to fit). Rows without headers get PrettyTable's
/// `Field 1`, `Field 2`… Ends with a newline.
pub fn table_box(
    title: &str,
    headers: &[String],
    rows: &[Vec<String>],
    right: &[&str],
    all_rules: bool,
) -> String {
    let ncols = if headers.is_empty() {
        rows.first().map_or(0, Vec::len)
    } else {
        headers.len()
    };
    let headers: Vec<String> = if headers.is_empty() {
        (1..=ncols).map(|n| format!("Field {n}")).collect()
    } else {
        headers.to_vec()
    };
    let width = |s: &str| s.split('\n').map(|l| l.chars().count()).max().unwrap_or(0);
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(ncols) {
            widths[i] = widths[i].max(width(c));
        }
    }
    let rule: String = std::iter::once("+".to_string())
        .chain(widths.iter().map(|w| format!("{}+", "-".repeat(w + 2))))
        .collect();
    let right_aligned: Vec<bool> = headers
        .iter()
        .map(|h| right.contains(&h.as_str()))
        .collect();
    let render_row = |cells: &[String]| -> Vec<String> {
        let split: Vec<Vec<&str>> = (0..ncols)
            .map(|i| cells.get(i).map_or(vec![""], |c| c.split('\n').collect()))
            .collect();
        let height = split.iter().map(Vec::len).max().unwrap_or(1).max(1);
        (0..height)
            .map(|line| {
                let mut s = String::from("|");
                for (i, w) in widths.iter().enumerate() {
                    let text = split[i].get(line).copied().unwrap_or("");
                    let pad = w - text.chars().count();
                    if right_aligned[i] {
                        s.push_str(&format!(" {}{text} |", " ".repeat(pad)));
                    } else {
                        s.push_str(&format!(" {text}{} |", " ".repeat(pad)));
                    }
                }
                s
            })
            .collect()
    };
    let mut top = rule.clone();
    if !title.is_empty() {
        let n = top.chars().count();
        let cut: String = title.chars().take(n.saturating_sub(2)).collect();
        let rest: String = top.chars().skip(1 + cut.chars().count()).collect();
        top = format!("+{cut}{rest}");
    }
    let mut lines = vec![top];
    lines.extend(render_row(&headers));
    lines.push(rule.clone());
    for r in rows {
        lines.extend(render_row(r));
        if all_rules {
            lines.push(rule.clone());
        }
    }
    if !all_rules || rows.is_empty() {
        lines.push(rule);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Draws a PrettyTable-style box (patronictl's look) with `title` injected into the top border.
/// Kept for callers outside praetorctl (the demo); see [`table_box`].
pub fn pretty_table(
    title: Option<&str>,
    headers: &[&str],
    rows: &[Vec<String>],
    right: &[&str],
) -> String {
    let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    table_box(title.unwrap_or(""), &headers, rows, right, false)
}

/// patronictl's `print_output`: a table of `columns` × `rows` in `style`. `title` (non-empty only
/// for the members table) goes into the box's top border; with it, JSON and YAML leave out empty
/// values, Tags cells become YAML (block style in pretty, flow style in TSV and topology), and the
/// boxed forms drop the `Cluster` column (and `Group` when the title names the group). Returns
/// the printed text, final newline included.
pub fn print_output(
    columns: Option<&[&str]>,
    rows: Vec<Vec<Doc>>,
    right: &[&str],
    style: Style,
    title: &str,
    delimiter: &str,
) -> String {
    let columns: Vec<&str> = columns.unwrap_or(&[]).to_vec();
    if matches!(style, Style::Json | Style::Yaml) {
        let list = Doc::List(
            rows.into_iter()
                .map(|r| {
                    Doc::Map(
                        columns
                            .iter()
                            .zip(r)
                            .filter(|(_, v)| title.is_empty() || !v.py_str().is_empty())
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                    )
                })
                .collect(),
        );
        return match style {
            Style::Json => format!("{}\n", pyfmt::py_json(&list)),
            _ => format!("{}\n", pyfmt::py_yaml(&list, false)),
        };
    }
    let mut rows = rows;
    let mut columns = columns;
    let members_table = !title.is_empty() && columns.first() == Some(&"Cluster");
    if members_table {
        if let Some(i) = columns.iter().position(|c| *c == "Tags") {
            for r in &mut rows {
                if r[i].truthy() {
                    let yaml = pyfmt::py_yaml(&r[i], style != Style::Pretty);
                    r[i] = Doc::Str(yaml.trim().to_string());
                }
            }
        }
        if style != Style::Tsv {
            let skip = if title.contains(" (group: ") { 2 } else { 1 };
            columns.drain(..skip.min(columns.len()));
            for r in &mut rows {
                r.drain(..skip.min(r.len()));
            }
        }
    }
    if style == Style::Tsv {
        let mut out = String::new();
        if !columns.is_empty() {
            out.push_str(&columns.join(delimiter));
            out.push('\n');
        }
        for r in &rows {
            out.push_str(
                &r.iter()
                    .map(Doc::py_str)
                    .collect::<Vec<_>>()
                    .join(delimiter),
            );
            out.push('\n');
        }
        return out;
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(Doc::py_str).collect())
        .collect();
    let multiline = rows.iter().any(|r| {
        r.iter()
            .any(|c| matches!(c, Doc::Str(s) if s.contains('\n')))
    });
    let headers: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    format!(
        "{}\n",
        table_box(title, &headers, &cells, right, multiline).trim_end_matches('\n')
    )
}
