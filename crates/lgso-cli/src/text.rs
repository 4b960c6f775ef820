//! Number and vector formatting for tables and summaries.

use std::io::Write;

use lgso::report::IterationReport;

/// Writes `text` to stdout (an error, such as a closed pipe, is returned
/// rather than panicking as `print!` would).
///
/// # Errors
/// I/O errors.
pub fn out(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// `value ± stderr` of a report's objective, with the exact value where
/// the problem has one: `-0.51 ± 0.004 (exact -0.5)`.
pub fn objective(r: &IterationReport) -> String {
    let mut s = if r.objective.is_nan() {
        // the monitor request failed (an external simulator's error)
        "not estimated".to_string()
    } else {
        format!("{} ± {}", num(r.objective), sig(r.objective_stderr, 2))
    };
    if let Some(e) = r.objective_exact {
        s.push_str(&format!(" (exact {})", num(e)));
    }
    s
}

/// `x` with about four significant digits: `2`, `-0.5123`, `1.235e5`,
/// `3.1e-5`; `nan`/`inf` as such.
pub fn num(x: f64) -> String {
    sig(x, 4)
}

/// `x` with at most `digits` (1 to 8) significant digits, trailing zeros
/// dropped; scientific notation outside `[1e-3, 1e5)`.
pub fn sig(x: f64, digits: usize) -> String {
    let digits = digits.clamp(1, 8);
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-3..1e5).contains(&a) {
        let p = digits - 1;
        let s = format!("{x:.p$e}");
        // 1.500e4 -> 1.5e4
        return match s.split_once('e') {
            Some((m, e)) => format!("{}e{e}", trim_zeros(m)),
            None => s,
        };
    }
    let decimals = (digits as i32 - 1 - a.log10().floor() as i32).clamp(0, 10) as usize;
    trim_zeros(&format!("{x:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A vector as `(a, b, c)`; longer than `keep` entries it is abbreviated to
/// its first `keep - 1` entries, `...` and the last one:
/// `(2, 2, 2, ..., 2)`.
pub fn vector(v: &[f64], keep: usize) -> String {
    let keep = keep.max(2);
    let parts: Vec<String> = if v.len() <= keep {
        v.iter().map(|&x| num(x)).collect()
    } else {
        let mut p: Vec<String> = v[..keep - 1].iter().map(|&x| num(x)).collect();
        p.push("...".into());
        p.extend(v.last().map(|&x| num(x)));
        p
    };
    format!("({})", parts.join(", "))
}

/// A call count with thousands separators: `1_500_000` -> `1,500,000`.
pub fn calls(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds in a readable unit: `850 ms`, `12.3 s`, `4 min 05 s`.
pub fn seconds(s: f64) -> String {
    if !s.is_finite() {
        return "—".into();
    }
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 100.0 {
        format!("{s:.1} s")
    } else {
        let t = s.round();
        let m = (t / 60.0).floor();
        format!("{m:.0} min {:02.0} s", t - 60.0 * m)
    }
}

/// A plain-text table with columns padded to their widest cell (the last
/// column is not padded).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cols = headers.len();
    let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cols {
                let pad = width[i] + 2 - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A Markdown table (`|` in cells escaped).
pub fn markdown(headers: &[&str], rows: &[Vec<String>]) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut out = format!(
        "| {} |\n|{}\n",
        headers
            .iter()
            .map(|h| esc(h))
            .collect::<Vec<_>>()
            .join(" | "),
        " --- |".repeat(headers.len())
    );
    for row in rows {
        out.push_str(&format!(
            "| {} |\n",
            row.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(num(2.0), "2");
        assert_eq!(num(-0.512345), "-0.5123");
        assert_eq!(num(123.456), "123.5");
        assert_eq!(num(150000.0), "1.5e5");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(sig(0.008156, 2), "0.0082");
        assert_eq!(sig(3.1e-5, 2), "3.1e-5");
    }

    #[test]
    fn vectors() {
        assert_eq!(vector(&[2.0, 0.0], 4), "(2, 0)");
        assert_eq!(vector(&[2.0; 10], 4), "(2, 2, 2, ..., 2)");
        assert_eq!(vector(&[], 4), "()");
    }

    #[test]
    fn call_counts() {
        assert_eq!(calls(0), "0");
        assert_eq!(calls(999), "999");
        assert_eq!(calls(1000), "1,000");
        assert_eq!(calls(1_500_000), "1,500,000");
    }
}
