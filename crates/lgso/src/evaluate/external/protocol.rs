//! The messages of simulator protocol v1 (docs/protocol.md): the handshake,
//! batch messages (lgso -> simulator) and answers (simulator -> lgso), one
//! JSON object per line.
//!
//! Parsing is strict about structure (a line that is not the expected
//! object is *malformed*) and lenient about non-finite numbers: the bare
//! tokens `NaN`, `Infinity` and `-Infinity` (what Python's `json.dumps`
//! writes), `null`, and the strings `"NaN"`, `"Infinity"`, `"-Infinity"`
//! all read as non-finite values, so that such samples can be rejected one
//! by one instead of losing the whole answer.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// The protocol version string every handshake must carry.
pub const PROTOCOL: &str = "lgso-simulator/1";

/// The first line a simulator prints on stdout (docs/protocol.md,
/// "Handshake"): protocol version, dimensions, optional names and bounds.
///
/// JSON form: `{"protocol": "lgso-simulator/1", "psi_dim": 2, "x_dim": 1,
/// "y_dim": 1, "name": "toy", "psi_names": ["a", "b"], "bounds": [[-5, 5],
/// [-5, 5]]}`; the last three are optional, unknown keys are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handshake {
    /// Must be [`PROTOCOL`].
    pub protocol: String,
    /// `n`, the dimension of psi (>= 1).
    pub psi_dim: usize,
    /// `d`, the dimension of x (may be 0: no inputs).
    pub x_dim: usize,
    /// `m`, the dimension of y (>= 1).
    pub y_dim: usize,
    /// The simulator's name, for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Names of the psi coordinates, `[n]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi_names: Option<Vec<String>>,
    /// Box bounds `[lo, hi]` per psi coordinate, `[n]`; JSON
    /// `[[lo, hi], ...]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<Vec<(f64, f64)>>,
}

/// The expected form of a handshake, quoted in error messages.
pub const HANDSHAKE_FORM: &str = "a first line like {\"protocol\": \"lgso-simulator/1\", \"psi_dim\": 2, \"x_dim\": 1, \"y_dim\": 1} (optional: \"name\", \"psi_names\", \"bounds\": [[lo, hi], ...]); see docs/protocol.md";

/// Shortens `line` to at most 200 characters for an error message.
pub(crate) fn excerpt(line: &str) -> String {
    const MAX: usize = 200;
    if line.chars().count() <= MAX {
        line.to_string()
    } else {
        let head: String = line.chars().take(MAX).collect();
        format!("{head}... ({} bytes)", line.len())
    }
}

/// Parses and checks a handshake line.
///
/// # Errors
/// A one-line reason quoting the line and the expected form when the line
/// is not JSON, lacks a field, names another protocol version, has
/// `psi_dim` or `y_dim` 0, or has names/bounds of the wrong length or
/// bounds that are not finite with `lo < hi`.
pub fn parse_handshake(line: &str) -> Result<Handshake, String> {
    let shown = excerpt(line.trim());
    let h: Handshake = match serde_json::from_str(line) {
        Ok(h) => h,
        Err(e) => {
            // Say "other protocol" rather than "missing field" when the
            // line is an object naming another version.
            if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(line) {
                if let Some(p) = map.get("protocol").and_then(|p| p.as_str()) {
                    if p != PROTOCOL {
                        return Err(format!(
                            "handshake names protocol `{p}`, this lgso speaks `{PROTOCOL}` (line: {shown}); expected {HANDSHAKE_FORM}"
                        ));
                    }
                }
            }
            return Err(format!(
                "first line of stdout is not a valid handshake ({e}): {shown}; expected {HANDSHAKE_FORM}"
            ));
        }
    };
    if h.protocol != PROTOCOL {
        return Err(format!(
            "handshake names protocol `{}`, this lgso speaks `{PROTOCOL}` (line: {shown}); expected {HANDSHAKE_FORM}",
            h.protocol
        ));
    }
    if h.psi_dim == 0 || h.y_dim == 0 {
        return Err(format!(
            "handshake has psi_dim = {} and y_dim = {}, both must be >= 1 (line: {shown})",
            h.psi_dim, h.y_dim
        ));
    }
    if let Some(names) = &h.psi_names {
        if names.len() != h.psi_dim {
            return Err(format!(
                "handshake has {} psi_names for psi_dim = {} (line: {shown})",
                names.len(),
                h.psi_dim
            ));
        }
    }
    if let Some(bounds) = &h.bounds {
        if bounds.len() != h.psi_dim {
            return Err(format!(
                "handshake has {} bounds for psi_dim = {}; expected one [lo, hi] per psi coordinate (line: {shown})",
                bounds.len(),
                h.psi_dim
            ));
        }
        if let Some((i, (lo, hi))) = bounds
            .iter()
            .enumerate()
            .find(|(_, (lo, hi))| !(lo.is_finite() && hi.is_finite() && lo < hi))
        {
            return Err(format!(
                "handshake bound {i} is [{lo}, {hi}]; expected finite numbers with lo < hi (line: {shown})"
            ));
        }
    }
    Ok(h)
}

/// One request of a batch message as sent on the wire.
#[derive(Debug, Clone, Serialize)]
pub struct WireRequest<'a> {
    /// The id the simulator must echo: lgso's chunk id, unique within a
    /// worker pool (docs/protocol.md, "Batch").
    pub request: u64,
    /// psi, `[n]` (finite).
    pub psi: &'a [f64],
    /// Number of samples to draw.
    pub samples: usize,
    /// Seed of the simulator's RNG for this request.
    pub seed: u64,
}

#[derive(Serialize)]
struct WireBatch<'a> {
    batch: u64,
    requests: &'a [WireRequest<'a>],
}

/// The batch message `{"batch": id, "requests": [...]}` as one line,
/// ending in `\n`.
pub fn encode_batch(batch: u64, requests: &[WireRequest<'_>]) -> String {
    // Serializing plain integers, finite floats and slices cannot fail.
    let mut line = serde_json::to_string(&WireBatch { batch, requests })
        .unwrap_or_else(|e| format!("{{\"batch\": {batch}, \"error\": \"{e}\"}}"));
    line.push('\n');
    line
}

/// A number of an answer: finite, or non-finite written as a bare token,
/// `null` or a string (see the module doc).
#[derive(Debug, Clone, Copy)]
struct Num(f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, null, NaN, Infinity or -Infinity")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(f64::NAN))
            }
            fn visit_none<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(f64::NAN))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                match v {
                    "NaN" => Ok(Num(f64::NAN)),
                    "Infinity" => Ok(Num(f64::INFINITY)),
                    "-Infinity" => Ok(Num(f64::NEG_INFINITY)),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct RawResult {
    request: u64,
    #[serde(default)]
    x: Option<Vec<Vec<Num>>>,
    #[serde(default)]
    y: Option<Vec<Vec<Num>>>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct RawAnswer {
    batch: u64,
    results: Vec<RawResult>,
}

/// The answer to one request of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerBody {
    /// The drawn samples: x rows and y rows, as sent (not yet checked
    /// against the requested count and dims).
    Samples {
        /// Rows of x.
        x: Vec<Vec<f64>>,
        /// Rows of y.
        y: Vec<Vec<f64>>,
    },
    /// The simulator's error message for this request.
    Error(String),
}

/// A parsed answer line: `{"batch": id, "results": [...]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The batch id it answers.
    pub batch: u64,
    /// `(request id, body)` per result, in the order sent.
    pub results: Vec<(u64, AnswerBody)>,
}

/// Rewrites the bare tokens `NaN`, `Infinity`, `-Infinity` outside JSON
/// strings into the strings `"NaN"`, `"Infinity"`, `"-Infinity"`, which
/// serde_json accepts; other text is unchanged. Returns the line itself
/// when it holds no such token.
pub fn quote_non_finite(line: &str) -> Cow<'_, str> {
    if !line.contains("NaN") && !line.contains("Infinity") {
        return Cow::Borrowed(line);
    }
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0; // first byte not yet copied
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        let token = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| bytes[i..].starts_with(t.as_bytes()));
        if let Some(t) = token {
            out.push_str(&line[start..i]);
            out.push('"');
            out.push_str(t);
            out.push('"');
            i += t.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&line[start..]);
    Cow::Owned(out)
}

/// Parses an answer line.
///
/// # Errors
/// A one-line reason when the line is not JSON, not an answer object, a
/// result has neither `error` nor both `x` and `y`, or a number is not a
/// number (non-finite tokens are accepted, see the module doc).
pub fn parse_answer(line: &str) -> Result<Answer, String> {
    let text = quote_non_finite(line);
    let raw: RawAnswer = serde_json::from_str(&text).map_err(|e| {
        format!(
            "answer line is not {{\"batch\": ID, \"results\": [{{\"request\": ID, \"x\": [[..]], \"y\": [[..]]}} or {{\"request\": ID, \"error\": \"why\"}}, ...]}} ({e}): {}",
            excerpt(line.trim())
        )
    })?;
    let rows = |m: Vec<Vec<Num>>| -> Vec<Vec<f64>> {
        m.into_iter()
            .map(|r| r.into_iter().map(|v| v.0).collect())
            .collect()
    };
    let mut results = Vec::with_capacity(raw.results.len());
    for r in raw.results {
        let body = match (r.error, r.x, r.y) {
            (Some(e), _, _) => AnswerBody::Error(e),
            (None, Some(x), Some(y)) => AnswerBody::Samples {
                x: rows(x),
                y: rows(y),
            },
            (None, x, _) => {
                return Err(format!(
                    "result for request {} has no `{}` and no `error`: {}",
                    r.request,
                    if x.is_none() { "x" } else { "y" },
                    excerpt(line.trim())
                ))
            }
        };
        results.push((r.request, body));
    }
    Ok(Answer {
        batch: raw.batch,
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_tokens_are_quoted_outside_strings_only() {
        let line = r#"{"a": [NaN, -Infinity, Infinity, 1.5], "s": "NaN \"Infinity\""}"#;
        assert_eq!(
            quote_non_finite(line),
            r#"{"a": ["NaN", "-Infinity", "Infinity", 1.5], "s": "NaN \"Infinity\""}"#
        );
        assert!(matches!(quote_non_finite("[1, 2]"), Cow::Borrowed(_)));
    }

    #[test]
    fn answers_parse_with_non_finite_values_and_errors() {
        let a = parse_answer(
            r#"{"batch": 3, "results": [{"request": 5, "x": [[0.5], [1]], "y": [[NaN], [null]]}, {"request": 6, "error": "bad psi"}]}"#,
        )
        .unwrap();
        assert_eq!(a.batch, 3);
        assert_eq!(a.results.len(), 2);
        match &a.results[0].1 {
            AnswerBody::Samples { x, y } => {
                assert_eq!(x, &vec![vec![0.5], vec![1.0]]);
                assert!(y[0][0].is_nan() && y[1][0].is_nan());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(a.results[1], (6, AnswerBody::Error("bad psi".into())));
        let a = parse_answer(
            r#"{"batch": 1, "results": [{"request": 1, "x": [[-Infinity]], "y": [["Infinity"]]}]}"#,
        )
        .unwrap();
        match &a.results[0].1 {
            AnswerBody::Samples { x, y } => {
                assert_eq!(x[0][0], f64::NEG_INFINITY);
                assert_eq!(y[0][0], f64::INFINITY);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_answer("garbage").is_err());
        assert!(parse_answer(r#"{"batch": 1, "results": [{"request": 1, "x": [[1]]}]}"#).is_err());
        assert!(parse_answer(
            r#"{"batch": 1, "results": [{"request": 1, "x": [["a"]], "y": [[1]]}]}"#
        )
        .is_err());
    }

    #[test]
    fn handshakes_are_checked() {
        let h = parse_handshake(
            r#"{"protocol": "lgso-simulator/1", "psi_dim": 2, "x_dim": 1, "y_dim": 1, "bounds": [[-5, 5], [0, 1]]}"#,
        )
        .unwrap();
        assert_eq!((h.psi_dim, h.x_dim, h.y_dim), (2, 1, 1));
        assert_eq!(h.bounds, Some(vec![(-5.0, 5.0), (0.0, 1.0)]));
        let e = parse_handshake(r#"{"protocol": "lgso-simulator/2", "psi_dim": 2}"#).unwrap_err();
        assert!(
            e.contains("lgso-simulator/2") && e.contains(PROTOCOL),
            "{e}"
        );
        let e = parse_handshake(r#"{"protocol": "lgso-simulator/1", "psi_dim": 2}"#).unwrap_err();
        assert!(e.contains("x_dim") && e.contains("expected"), "{e}");
        let e = parse_handshake("hello").unwrap_err();
        assert!(e.contains("hello"), "{e}");
        let e = parse_handshake(
            r#"{"protocol": "lgso-simulator/1", "psi_dim": 2, "x_dim": 1, "y_dim": 1, "bounds": [[5, -5], [0, 1]]}"#,
        )
        .unwrap_err();
        assert!(e.contains("lo < hi"), "{e}");
    }

    #[test]
    fn batch_lines_are_one_json_object() {
        let psi = [1.0, -2.5];
        let line = encode_batch(
            7,
            &[WireRequest {
                request: 3,
                psi: &psi,
                samples: 10,
                seed: 42,
            }],
        );
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["batch"], 7);
        assert_eq!(v["requests"][0]["psi"][1], -2.5);
        assert_eq!(v["requests"][0]["samples"], 10);
        assert_eq!(v["requests"][0]["seed"], 42);
    }
}
