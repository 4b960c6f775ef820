//! Data files shipped with the crate (see `data/README.md` for provenance),
//! embedded at compile time and parsed into [`Matrix`] values on demand.
//!
//! Parsing is cheap (the largest file has 506 rows), so each accessor parses
//! its file on every call; nothing is cached. Every parse checks the shape
//! and that every entry is a finite number, and reports the first problem as
//! [`Error::Data`] with the file name and the 1-based line.

use crate::data::Matrix;
use crate::error::{Error, Result};

const BOSTON_HOUSING: &str = include_str!("../../data/boston_housing.csv");
const BOSTON_NN_INIT_PSI: &str = include_str!("../../data/boston_nn_init_psi.csv");
const SUBMANIFOLD_ROSENBROCK: &str = include_str!("../../data/submanifold_rosenbrock_100x10.csv");
const SUBMANIFOLD_HUMP_W1: &str = include_str!("../../data/submanifold_hump_w1_40x16.csv");
const SUBMANIFOLD_HUMP_W2: &str = include_str!("../../data/submanifold_hump_w2_16x2.csv");

/// Number of rows of the Boston housing data set.
pub(crate) const BOSTON_ROWS: usize = 506;
/// Number of feature columns of the Boston housing data set (MEDV excluded).
pub(crate) const BOSTON_FEATURES: usize = 13;

/// Parses comma-separated numbers into a `[rows, cols]` matrix.
///
/// `header` skips the first line. Blank lines (e.g. a trailing newline) are
/// ignored. Quotes around a field are not accepted: the numeric files have
/// none.
///
/// # Errors
/// [`Error::Data`] naming `file` and the line of the first field that is not
/// a finite number, of the first line with the wrong number of fields, or
/// (with the line after the last) a wrong number of rows.
pub(crate) fn parse_csv(
    file: &str,
    text: &str,
    header: bool,
    rows: usize,
    cols: usize,
) -> Result<Matrix> {
    let data_error = |line: usize, reason: String| Error::Data {
        file: file.to_string(),
        line,
        reason,
    };
    let mut data = Vec::with_capacity(rows * cols);
    let mut found_rows = 0usize;
    let mut last_line = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        last_line = line;
        if header && index == 0 {
            continue;
        }
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        if found_rows == rows {
            return Err(data_error(
                line,
                format!("more than the expected {rows} data rows"),
            ));
        }
        let mut fields = 0usize;
        for field in trimmed.split(',') {
            fields += 1;
            if fields > cols {
                break;
            }
            let field = field.trim();
            let value: f64 = field.parse().map_err(|_| {
                data_error(line, format!("field {fields} `{field}` is not a number"))
            })?;
            if !value.is_finite() {
                return Err(data_error(
                    line,
                    format!("field {fields} `{field}` is not a finite number"),
                ));
            }
            data.push(value);
        }
        if fields != cols {
            return Err(data_error(
                line,
                format!(
                    "expected {cols} comma-separated fields, found {}",
                    trimmed.split(',').count()
                ),
            ));
        }
        found_rows += 1;
    }
    if found_rows != rows {
        return Err(data_error(
            last_line + 1,
            format!("expected {rows} data rows, found {found_rows}"),
        ));
    }
    Matrix::from_vec(rows, cols, data)
}

/// The Boston housing data, `data/boston_housing.csv` (problems.md §5):
/// `[506, 14]`, columns CRIM, ZN, INDUS, CHAS, NOX, RM, AGE, DIS, RAD, TAX,
/// PTRATIO, B, LSTAT (the 13 raw features) and MEDV (the target, in
/// $1000s). The header line is checked and skipped.
///
/// # Errors
/// [`Error::Data`] if the embedded file is corrupt.
pub(crate) fn boston_housing() -> Result<Matrix> {
    const FILE: &str = "boston_housing.csv";
    const HEADER: &str = "\"CRIM\",\"ZN\",\"INDUS\",\"CHAS\",\"NOX\",\"RM\",\"AGE\",\"DIS\",\"RAD\",\"TAX\",\"PTRATIO\",\"B\",\"LSTAT\",\"MEDV\"";
    let first = BOSTON_HOUSING.lines().next().unwrap_or("").trim();
    if first != HEADER {
        return Err(Error::Data {
            file: FILE.to_string(),
            line: 1,
            reason: format!("expected the header {HEADER}, found `{first}`"),
        });
    }
    parse_csv(FILE, BOSTON_HOUSING, true, BOSTON_ROWS, BOSTON_FEATURES + 1)
}

/// The paper's start point of the Boston NN-weights problem,
/// `data/boston_nn_init_psi.csv` (problems.md §5): 91 values, one a line.
///
/// # Errors
/// [`Error::Data`] if the embedded file is corrupt.
pub(crate) fn boston_nn_init_psi() -> Result<Vec<f64>> {
    parse_csv("boston_nn_init_psi.csv", BOSTON_NN_INIT_PSI, false, 91, 1).map(Matrix::into_vec)
}

/// The embedding `A` of the submanifold Rosenbrock problem,
/// `data/submanifold_rosenbrock_100x10.csv` (problems.md §3): `[100, 10]`.
///
/// # Errors
/// [`Error::Data`] if the embedded file is corrupt.
pub(crate) fn submanifold_rosenbrock_a() -> Result<Matrix> {
    parse_csv(
        "submanifold_rosenbrock_100x10.csv",
        SUBMANIFOLD_ROSENBROCK,
        false,
        100,
        10,
    )
}

/// The first embedding `W1` of the nonlinear submanifold hump problem,
/// `data/submanifold_hump_w1_40x16.csv` (problems.md §4): `[40, 16]`.
///
/// # Errors
/// [`Error::Data`] if the embedded file is corrupt.
pub(crate) fn submanifold_hump_w1() -> Result<Matrix> {
    parse_csv(
        "submanifold_hump_w1_40x16.csv",
        SUBMANIFOLD_HUMP_W1,
        false,
        40,
        16,
    )
}

/// The second embedding `W2` of the nonlinear submanifold hump problem,
/// `data/submanifold_hump_w2_16x2.csv` (problems.md §4): `[16, 2]`.
///
/// # Errors
/// [`Error::Data`] if the embedded file is corrupt.
pub(crate) fn submanifold_hump_w2() -> Result<Matrix> {
    parse_csv(
        "submanifold_hump_w2_16x2.csv",
        SUBMANIFOLD_HUMP_W2,
        false,
        16,
        2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_files_parse_with_their_shapes() {
        let b = boston_housing().unwrap();
        assert_eq!((b.rows(), b.cols()), (506, 14));
        // First data line of the file: 0.00632,18,2.31,...,4.98,24
        assert_eq!(b.get(0, 0), 0.00632);
        assert_eq!(b.get(0, 13), 24.0);
        assert_eq!(boston_nn_init_psi().unwrap().len(), 91);
        let a = submanifold_rosenbrock_a().unwrap();
        assert_eq!((a.rows(), a.cols()), (100, 10));
        let w1 = submanifold_hump_w1().unwrap();
        assert_eq!((w1.rows(), w1.cols()), (40, 16));
        let w2 = submanifold_hump_w2().unwrap();
        assert_eq!((w2.rows(), w2.cols()), (16, 2));
    }

    fn data_line(e: Error) -> (usize, String) {
        match e {
            Error::Data { line, reason, .. } => (line, reason),
            other => panic!("expected Error::Data, got {other}"),
        }
    }

    #[test]
    fn bad_files_name_the_line() {
        let (line, reason) = data_line(parse_csv("t", "1,2\n3,x\n", false, 2, 2).unwrap_err());
        assert_eq!(line, 2);
        assert!(reason.contains("`x`"), "{reason}");

        let (line, _) = data_line(parse_csv("t", "h\n1,2\n3\n", true, 2, 2).unwrap_err());
        assert_eq!(line, 3);

        let (line, _) = data_line(parse_csv("t", "1,2\n3,4,5\n", false, 2, 2).unwrap_err());
        assert_eq!(line, 2);

        let (line, reason) = data_line(parse_csv("t", "1,2\n", false, 2, 2).unwrap_err());
        assert_eq!(line, 2);
        assert!(reason.contains("found 1"), "{reason}");

        let (line, _) = data_line(parse_csv("t", "1,2\n3,4\n5,6\n", false, 2, 2).unwrap_err());
        assert_eq!(line, 3);

        let (line, _) = data_line(parse_csv("t", "1,NaN\n", false, 1, 2).unwrap_err());
        assert_eq!(line, 1);

        let m = parse_csv("t", "1, 2\n\n3,4\n\n", false, 2, 2).unwrap();
        assert_eq!(m.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
    }
}
