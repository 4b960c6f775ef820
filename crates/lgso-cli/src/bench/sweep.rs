//! `--sweep KEY=V1,V2,...` of `lgso bench`: parsing and applying a value
//! to a configuration (the settings each method runs are in `setting.rs`).
//!
//! `KEY` is a dotted path into the configuration file (`lgso.eps`,
//! `gan.generator_hidden`, `stop.budget`); the values are split on commas
//! outside brackets, braces and quotes, and each is read as a TOML value
//! (`3`, `0.1`, `[64,64]`, `"gan"`), or else taken as a string (so `mdn`
//! needs no quotes). A value is applied by writing the configuration as a
//! TOML table, setting the key and reading it back: the configuration
//! file's own parser refuses unknown keys and wrong types. A key whose
//! table belongs to a method (`lgso` with its surrogates' `gan`, `ffjord`,
//! `mdn`, and each baseline's table) is swept for that method only; any
//! other key for every method.

use anyhow::{anyhow, bail};
use lgso::config::Config;
use lgso::optimizer::METHODS;

/// The surrogates' tables: swept for `lgso`, the method that fits them.
const SURROGATE_TABLES: [&str; 3] = ["gan", "ffjord", "mdn"];

/// Keys `lgso bench` sets itself, with the option that sets them.
const BENCH_KEYS: [(&str, &str); 3] = [
    ("problem", "--problems"),
    ("method", "--methods"),
    ("seed", "--seed and --seeds"),
];

/// One `--sweep`: a configuration key and the values it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The dotted key, e.g. `lgso.samples_per_point`.
    pub key: String,
    /// Its values, in the order given, without repeats.
    pub values: Vec<toml::Value>,
    /// The method it is swept for; `None`: every method.
    pub method: Option<&'static str>,
}

impl Sweep {
    /// Reads `KEY=V1,V2,...` (the checks that need a configuration are in
    /// [`check_against`]).
    ///
    /// # Errors
    /// No `=`, a malformed key, a key `lgso bench` sets itself, no values
    /// or an empty one; each message quotes the option.
    pub fn parse(raw: &str) -> anyhow::Result<Sweep> {
        let usage = "expected KEY=V1,V2,... with KEY a configuration key, e.g. \
                     --sweep lgso.samples_per_point=1,3,10";
        let Some((key, list)) = raw.split_once('=') else {
            bail!("--sweep {raw}: no `=`: {usage}");
        };
        let key = key.trim();
        let segments: Vec<&str> = key.split('.').collect();
        let well_formed = |s: &&str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !segments.iter().all(well_formed) {
            bail!("--sweep {raw}: `{key}` is not a configuration key: {usage}");
        }
        if let Some((_, option)) = BENCH_KEYS.iter().find(|(k, _)| *k == key) {
            bail!("--sweep {raw}: lgso bench sets `{key}` itself: use {option}");
        }
        if key == "stop.target" {
            bail!(
                "--sweep {raw}: the runs of a sweep do not stop at a target \
                 (stop.target is cleared; every run goes on to its budget)"
            );
        }
        let method = METHODS
            .iter()
            .copied()
            .find(|&m| m == segments[0])
            .or(SURROGATE_TABLES
                .contains(&segments[0])
                .then_some(lgso::optimizer::Method::Lgso.name()));
        let pieces = split_values(list);
        if pieces.iter().all(|p| p.trim().is_empty()) {
            bail!("--sweep {raw}: no values for `{key}`: {usage}");
        }
        let mut values: Vec<toml::Value> = Vec::new();
        for piece in pieces {
            let piece = piece.trim();
            if piece.is_empty() {
                bail!("--sweep {raw}: an empty value for `{key}` (two commas, or one at an end)");
            }
            let value = parse_value(piece);
            if !values.contains(&value) {
                values.push(value);
            }
        }
        Ok(Sweep {
            key: key.to_string(),
            values,
            method,
        })
    }

    /// Whether it is swept for `method`.
    pub fn applies_to(&self, method: &str) -> bool {
        self.method.is_none_or(|m| m == method)
    }
}

/// Splits `list` on the commas outside brackets, braces and quotes.
pub fn split_values(list: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut depth, mut quote, mut start) = (0usize, None::<char>, 0usize);
    for (i, c) in list.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                pieces.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&list[start..]);
    pieces
}

/// `text` as a TOML value, or else as a string.
pub fn parse_value(text: &str) -> toml::Value {
    text.parse::<toml::Value>()
        .unwrap_or_else(|_| toml::Value::String(text.to_string()))
}

/// A value as a setting label shows it: strings bare, arrays and inline
/// tables without spaces (`[64,64]`), numbers and booleans as TOML writes
/// them.
pub fn render(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", items.join(","))
        }
        toml::Value::Table(t) => {
            let items: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k}={}", render(v)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        other => other.to_string(),
    }
}

/// `cfg` with `key` set to `value`, through TOML: the configuration
/// file's parser judges the result.
///
/// # Errors
/// The parser's message (unknown key, wrong type), or a key below a value
/// that is not a table.
pub fn apply(cfg: &Config, key: &str, value: &toml::Value) -> anyhow::Result<Config> {
    let mut table = toml::Table::try_from(cfg).map_err(|e| anyhow!("{e}"))?;
    let segments: Vec<&str> = key.split('.').collect();
    let (last, parents) = segments.split_last().expect("split yields one piece");
    let mut here = &mut table;
    for (i, segment) in parents.iter().enumerate() {
        let entry = here
            .entry(segment.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        here = match entry {
            toml::Value::Table(t) => t,
            _ => bail!("`{}` is a value, not a table", segments[..=i].join(".")),
        };
    }
    here.insert(last.to_string(), value.clone());
    table
        .try_into::<Config>()
        .map_err(|e| anyhow!("{}", e.message().trim().replace('\n', " ")))
}

/// Checks the sweeps together and each value on `base`, before anything
/// runs: a key given twice or inside another, a method's key without its
/// method among `methods`, an unknown key or a value of the wrong type.
///
/// # Errors
/// One message naming the `--sweep`, its key and the value.
pub fn check_against(sweeps: &[Sweep], base: &Config, methods: &[&str]) -> anyhow::Result<()> {
    for (i, a) in sweeps.iter().enumerate() {
        for b in &sweeps[..i] {
            let inside = |x: &str, y: &str| x.starts_with(&format!("{y}."));
            if a.key == b.key {
                bail!("--sweep {}: the key is swept twice", a.key);
            }
            if inside(&a.key, &b.key) || inside(&b.key, &a.key) {
                bail!(
                    "--sweep {} and --sweep {}: one key is inside the other",
                    b.key,
                    a.key
                );
            }
        }
        if let Some(m) = a.method {
            if !methods.contains(&m) {
                bail!(
                    "--sweep {}: the key is {m}'s, and {m} is not among --methods ({})",
                    a.key,
                    methods.join(",")
                );
            }
        }
        for value in &a.values {
            apply(base, &a.key, value)
                .map_err(|e| anyhow!("--sweep {}={}: {e:#}", a.key, render(value)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i64) -> toml::Value {
        toml::Value::Integer(i)
    }

    #[test]
    fn values_split_outside_brackets_and_quotes() {
        assert_eq!(split_values("1,3,10"), ["1", "3", "10"]);
        assert_eq!(
            split_values("[64,64],[100,100,100]"),
            ["[64,64]", "[100,100,100]"]
        );
        assert_eq!(split_values(r#""a,b",c"#), [r#""a,b""#, "c"]);
        assert_eq!(split_values("{a=1,b=2},x"), ["{a=1,b=2}", "x"]);
        assert_eq!(split_values(""), [""]);
        assert_eq!(split_values("1,,2"), ["1", "", "2"]);
    }

    #[test]
    fn values_are_toml_or_strings() {
        assert_eq!(parse_value("3"), int(3));
        assert_eq!(parse_value("0.5"), toml::Value::Float(0.5));
        assert_eq!(parse_value("true"), toml::Value::Boolean(true));
        assert_eq!(parse_value("mdn"), toml::Value::String("mdn".into()));
        assert_eq!(parse_value("\"mdn\""), toml::Value::String("mdn".into()));
        assert_eq!(
            parse_value("[64, 64]"),
            toml::Value::Array(vec![int(64), int(64)])
        );
        assert_eq!(parse_value("abc"), toml::Value::String("abc".into()));
        assert_eq!(render(&parse_value("[64, 64]")), "[64,64]");
        assert_eq!(render(&parse_value("\"mdn\"")), "mdn");
        assert_eq!(render(&parse_value("0.5")), "0.5");
    }

    #[test]
    fn parse_names_the_method() {
        let s = Sweep::parse("lgso.samples_per_point=1, 3,10,3").unwrap();
        assert_eq!(s.key, "lgso.samples_per_point");
        assert_eq!(s.values, [int(1), int(3), int(10)]); // the repeat dropped
        assert_eq!(s.method, Some("lgso"));
        assert_eq!(Sweep::parse("gan.epochs=1").unwrap().method, Some("lgso"));
        assert_eq!(
            Sweep::parse("cmaes.samples=1").unwrap().method,
            Some("cmaes")
        );
        let every = Sweep::parse("stop.budget=1000,2000").unwrap();
        assert_eq!(every.method, None);
        assert!(every.applies_to("lgso") && every.applies_to("bo"));
    }

    #[test]
    fn parse_errors_quote_the_option() {
        let err = |raw: &str| Sweep::parse(raw).unwrap_err().to_string();
        for (raw, needles) in [
            ("nokey", &["--sweep nokey", "no `=`", "KEY=V1,V2"][..]),
            (
                "lgso.samples_per_point=",
                &["no values", "lgso.samples_per_point"],
            ),
            ("lgso.samples_per_point=1,,3", &["empty value"]),
            ("lgso..eps=1", &["`lgso..eps`", "not a configuration key"]),
            ("=1", &["not a configuration key"]),
            ("seed=1,2", &["--seeds"]),
            ("method=lgso", &["--methods"]),
            ("stop.target=1", &["stop.target", "do not stop at a target"]),
        ] {
            let e = err(raw);
            for n in needles {
                assert!(e.contains(n), "{raw}: {n:?} missing from {e}");
            }
        }
    }

    #[test]
    fn apply_goes_through_the_config_parser() {
        let base = Config::default();
        let v = apply(&base, "lgso.samples_per_point", &int(7)).unwrap();
        assert_eq!(v.lgso.samples_per_point, Some(7));
        let v = apply(&base, "lgso.surrogate", &parse_value("mdn")).unwrap();
        assert_eq!(v.lgso.surrogate.as_deref(), Some("mdn"));
        let v = apply(&base, "stop.budget", &int(5000)).unwrap();
        assert_eq!(v.stop.budget, Some(5000));
        let v = apply(&base, "gan.generator_hidden", &parse_value("[8,9]")).unwrap();
        assert_eq!(v.gan.generator_hidden, [8, 9]);
        // everything else is untouched
        assert_eq!(
            Config {
                gan: base.gan.clone(),
                ..v
            },
            base
        );
        let e = |key: &str, value: &str| {
            apply(&base, key, &parse_value(value))
                .unwrap_err()
                .to_string()
        };
        assert!(
            e("lgso.nope", "1").contains("`nope`"),
            "{}",
            e("lgso.nope", "1")
        );
        assert!(e("nokey", "1").contains("`nokey`"));
        let wrong = e("lgso.samples_per_point", "abc");
        assert!(wrong.contains("abc") || wrong.contains("string"), "{wrong}");
        assert!(e("lgso.adam_eps.x", "1").contains("`lgso.adam_eps` is a value"));
    }

    #[test]
    fn check_names_key_and_value() {
        let base = Config::default();
        let check = |raws: &[&str], methods: &[&str]| {
            let sweeps: Vec<Sweep> = raws.iter().map(|r| Sweep::parse(r).unwrap()).collect();
            check_against(&sweeps, &base, methods).map_err(|e| e.to_string())
        };
        assert!(check(
            &["lgso.samples_per_point=1,3", "stop.budget=9000"],
            &["lgso"]
        )
        .is_ok());
        let e = check(&["lgso.samples_per_point=3,abc"], &["lgso"]).unwrap_err();
        assert!(e.contains("--sweep lgso.samples_per_point=abc:"), "{e}");
        let e = check(&["lgso.nope=1"], &["lgso"]).unwrap_err();
        assert!(
            e.contains("--sweep lgso.nope=1:") && e.contains("`nope`"),
            "{e}"
        );
        let e = check(&["cmaes.samples=3"], &["lgso"]).unwrap_err();
        assert!(e.contains("cmaes") && e.contains("--methods"), "{e}");
        let e = check(&["lgso.eps=0.1", "lgso.eps=0.2"], &["lgso"]).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = check(&["gan={epochs=1}", "gan.epochs=2"], &["lgso"]).unwrap_err();
        assert!(e.contains("inside"), "{e}");
    }
}
