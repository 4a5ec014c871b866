//! What every scenario prints: a Markdown table (header and rows, ready to paste into
//! docs/BENCHMARKS.md) and the command line that reproduces it.

/// Prints a Markdown table with one header line, its separator and `rows`.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    println!("{}", markdown_table(header, rows));
}

pub fn markdown_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len()));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out.trim_end().to_owned()
}

/// The command that reproduces this run: the same arguments through cargo.
pub fn reproduce(bin: &str) -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo run --release -p cromulent-bench --bin {bin} -- {}", args.join(" "))
}

/// Prints the reproducing command under the table.
pub fn print_reproduce(bin: &str) {
    println!("\nReproduce: `{}`", reproduce(bin));
}

/// A number with thousands separators, as the tables show counts and rates.
pub fn thousands(n: f64) -> String {
    let whole = n.round() as i64;
    let digits = whole.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if whole < 0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_a_separator_per_column_and_a_line_per_row() {
        let table = markdown_table(&["a", "b"], &[vec!["1".into(), "2".into()]]);
        assert_eq!(table, "| a | b |\n|---|---|\n| 1 | 2 |");
    }

    #[test]
    fn thousands_are_grouped_by_three() {
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-1000.0), "-1,000");
    }
}
