//! A tiny aligned-text table for the admin commands' human output (no
//! table crate: columns padded to their widest cell, two spaces apart).

use std::fmt::Write as _;

/// Rows of cells under a header line, rendered with aligned columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<I, S>(headers: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells render empty, extra cells get their own
    /// (header-less) column.
    pub fn row<I, S>(&mut self, cells: I) -> &mut Table
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.rows
            .push(cells.into_iter().map(|c| c.to_string()).collect());
        self
    }

    /// Whether there is no data row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The text: a header line, then one line per row; every line ends with
    /// `\n` and carries no trailing spaces.
    pub fn render(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain(std::iter::once(self.headers.len()))
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, cell) in line.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = line.get(i).map(String::as_str).unwrap_or("");
                if i > 0 {
                    text.push_str("  ");
                }
                let _ = write!(text, "{cell:<width$}");
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key : value` lines with the colons aligned (brokerStatus, message views).
pub fn key_values<'a, I>(pairs: I) -> String
where
    I: IntoIterator<Item = (&'a str, String)>,
{
    let pairs: Vec<(&str, String)> = pairs.into_iter().collect();
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let _ = writeln!(out, "{k:<width$} : {v}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_to_the_widest_cell() {
        let mut t = Table::new(["#Topic", "#QID"]);
        t.row(["TopicTest", "0"]).row(["T", "12"]);
        assert_eq!(t.render(), "#Topic     #QID\nTopicTest  0\nT          12\n");
        assert!(!t.is_empty());
    }

    #[test]
    fn short_and_long_rows_are_handled() {
        let mut t = Table::new(["a", "b"]);
        t.row(["x"]).row(["1", "2", "three"]);
        assert_eq!(t.render(), "a  b\nx\n1  2  three\n");
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        let mut t = Table::new(["name", "n"]);
        t.row(["héllo", "1"]);
        assert_eq!(t.render(), "name   n\nhéllo  1\n");
    }

    #[test]
    fn empty_table_renders_its_header() {
        let t = Table::new(["only"]);
        assert!(t.is_empty());
        assert_eq!(t.render(), "only\n");
    }

    #[test]
    fn key_values_align_the_colons() {
        let s = key_values([
            ("putTps", "1.00".to_string()),
            ("brokerRole", "SLAVE".into()),
        ]);
        assert_eq!(s, "putTps     : 1.00\nbrokerRole : SLAVE\n");
    }
}
