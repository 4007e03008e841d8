//! The index of a package as a small document model, rendered twice: as Markdown (`index.md`)
//! and as a self-contained HTML page (`index.html`), so the two always say the same thing.
//!
//! Every piece of text is plain text: the Markdown renderer escapes what Markdown would
//! interpret, the HTML renderer escapes every markup character, and neither renders a value
//! stored by a user (a team name, a summary) as markup.

use std::fmt::Write as _;

/// One block of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A heading; level 1 is the document title, 2 a section, 3 a part of one.
    Heading(u8, String),
    /// A paragraph.
    Paragraph(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table with a header row; every row has as many cells as the header.
    Table {
        /// The column names.
        header: Vec<String>,
        /// The rows.
        rows: Vec<Vec<String>>,
    },
}

impl Block {
    /// A table from string slices for the header.
    #[must_use]
    pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> Self {
        Self::Table {
            header: header.iter().map(|cell| (*cell).to_owned()).collect(),
            rows,
        }
    }
}

/// Escapes text for Markdown: characters that would start emphasis, code, links, HTML or a
/// table cell are backslash-escaped, and so is a first character that would open a heading or a
/// list; line breaks become spaces (a value never opens a block of its own).
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    if text.starts_with(['#', '-', '+', '=']) {
        out.push('\\');
    }
    let characters: Vec<char> = text.chars().collect();
    for (index, &character) in characters.iter().enumerate() {
        // An underscore inside a word (`backup_recovery`) never emphasizes in CommonMark.
        let inside_word = |index: usize| {
            index > 0
                && characters[index - 1].is_alphanumeric()
                && characters
                    .get(index + 1)
                    .is_some_and(|next| next.is_alphanumeric())
        };
        match character {
            '_' if inside_word(index) => out.push('_'),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' => {
                out.push('\\');
                out.push(character);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            other => out.push(other),
        }
    }
    out
}

/// A table cell: escaped text, with an em dash for an empty cell (so a column never collapses).
fn markdown_cell(text: &str) -> String {
    if text.is_empty() {
        "—".to_owned()
    } else {
        markdown_text(text)
    }
}

/// Renders `blocks` as Markdown.
#[must_use]
pub fn to_markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let marks = "#".repeat(usize::from((*level).clamp(1, 6)));
                let _ = writeln!(out, "{marks} {}\n", markdown_text(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "{}\n", markdown_text(text));
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {}", markdown_text(item));
                }
                out.push('\n');
            }
            Block::Table { header, rows } => {
                let line = |cells: &[String]| {
                    let cells: Vec<String> = cells.iter().map(|cell| markdown_cell(cell)).collect();
                    format!("| {} |\n", cells.join(" | "))
                };
                out.push_str(&line(header));
                let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
                for row in rows {
                    out.push_str(&line(row));
                }
                out.push('\n');
            }
        }
    }
    out
}

/// Escapes text for HTML element content and attribute values.
#[must_use]
pub fn html_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// The page's only style: inline, so the file opens offline and loads nothing.
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem;color:#222}\
table{border-collapse:collapse;margin:0 0 1.5rem}th,td{border:1px solid #bbb;padding:.25rem .5rem;\
text-align:left;vertical-align:top}th{background:#eee}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}";

/// Renders `blocks` as one HTML page titled `title`, with no script and no external asset
/// (its content security policy forbids both).
#[must_use]
pub fn to_html(title: &str, blocks: &[Block]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        html_text(title)
    );
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let level = (*level).clamp(1, 6);
                let _ = writeln!(out, "<h{level}>{}</h{level}>", html_text(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "<p>{}</p>", html_text(text));
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(out, "<li>{}</li>", html_text(item));
                }
                out.push_str("</ul>\n");
            }
            Block::Table { header, rows } => {
                out.push_str("<table>\n<thead><tr>");
                for cell in header {
                    let _ = write!(out, "<th>{}</th>", html_text(cell));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        let _ = write!(out, "<td>{}</td>", html_text(cell));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_is_never_markup_in_either_rendering() {
        let hostile = "<script>alert('x')</script> | **bold** [link](http://x) & \"q\"\n# heading";
        let blocks = vec![
            Block::Heading(2, hostile.to_owned()),
            Block::Paragraph(hostile.to_owned()),
            Block::List(vec![hostile.to_owned()]),
            Block::table(&["a", "b"], vec![vec![hostile.to_owned(), String::new()]]),
        ];
        let html = to_html(hostile, &blocks);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("&amp; &quot;q&quot;"));
        let markdown = to_markdown(&blocks);
        assert!(!markdown.contains("<script>"), "{markdown}");
        assert!(markdown.contains("\\<script\\>"));
        assert!(markdown.contains("\\*\\*bold\\*\\*"));
        assert!(markdown.contains(" \\| "));
        // A line break in a value never starts a heading of its own.
        assert!(!markdown.contains("\n# heading"));
        assert_eq!(markdown_text("# not a heading"), "\\# not a heading");
        assert_eq!(
            markdown_text("backup_recovery _x_"),
            "backup_recovery \\_x\\_"
        );
        assert!(markdown.contains("| — |"), "an empty cell keeps its column");
    }
}
