//! Plain-text rendering shared by task logs and alert messages.

/// The log text of a table: a header, a rule and the rows, columns padded (each cell cut
/// at 200 characters).
pub fn format_table(columns: &[String], rows: &[Vec<String>]) -> String {
    const CELL_MAX: usize = 200;
    let cut = |s: &str| -> String {
        let s = s.replace(['\n', '\r'], " ");
        if s.chars().count() > CELL_MAX {
            format!("{}…", s.chars().take(CELL_MAX).collect::<String>())
        } else {
            s
        }
    };
    let header: Vec<String> = columns.iter().map(|c| cut(c)).collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| cut(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &body {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                format!("{c}{}", " ".repeat(w.saturating_sub(c.chars().count())))
            })
            .collect();
        format!("{}\n", padded.join(" | ").trim_end())
    };
    let mut out = line(&header);
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-"),
    );
    out.push('\n');
    for row in &body {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_padded_and_cells_cut() {
        let table = format_table(
            &["id".into(), "name".into()],
            &[
                vec!["1".into(), "ann".into()],
                vec!["22".into(), "x\ny".into()],
            ],
        );
        assert_eq!(table, "id | name\n---+-----\n1  | ann\n22 | x y\n");
        let long = "é".repeat(300);
        let cut = format_table(&["c".into()], &[vec![long]]);
        assert!(cut.lines().nth(2).unwrap().chars().count() == 201);
    }
}
