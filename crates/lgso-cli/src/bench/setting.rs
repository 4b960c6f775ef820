//! The settings of a method in `lgso bench --sweep`: one value for each key
//! swept for it, every combination of the values; their labels and the
//! names of their run directories.

use anyhow::anyhow;
use lgso::config::Config;

use super::sweep::{apply, render, Sweep};

/// The longest setting label used as is in a run directory's name.
const MAX_DIR_LABEL: usize = 120;

/// One value of a swept key in a setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The dotted key.
    pub key: String,
    /// Its value.
    pub value: toml::Value,
}

/// One setting of a method: a value for each key swept for it (none when
/// nothing is: the configured setting).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Setting {
    /// In the order of the `--sweep` options.
    pub assignments: Vec<Assignment>,
}

impl Setting {
    /// The settings `method` runs: the cartesian product of the values of
    /// the sweeps that apply to it, the first sweep varying slowest; one
    /// empty setting when none applies.
    pub fn all_for(sweeps: &[Sweep], method: &str) -> Vec<Setting> {
        let mut settings = vec![Setting::default()];
        for sweep in sweeps.iter().filter(|s| s.applies_to(method)) {
            settings = settings
                .iter()
                .flat_map(|s| {
                    sweep.values.iter().map(move |v| {
                        let mut s = s.clone();
                        s.assignments.push(Assignment {
                            key: sweep.key.clone(),
                            value: v.clone(),
                        });
                        s
                    })
                })
                .collect();
        }
        settings
    }

    /// `samples_per_point=3,surrogate=mdn`: each key without `method`'s
    /// own table (`lgso.` for lgso), then `=` and the value; empty for
    /// the configured setting.
    pub fn label(&self, method: &str) -> String {
        let own = format!("{method}.");
        self.assignments
            .iter()
            .map(|a| {
                let key = a.key.strip_prefix(&own).unwrap_or(&a.key);
                format!("{key}={}", render(&a.value))
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The setting as `--sweep` options would give it:
    /// `lgso.samples_per_point=3, lgso.surrogate=mdn`.
    pub fn describe(&self) -> String {
        self.assignments
            .iter()
            .map(|a| format!("{}={}", a.key, render(&a.value)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `cfg` with every value of the setting applied.
    ///
    /// # Errors
    /// As [`apply`], naming the key and the value.
    pub fn apply(&self, cfg: &Config) -> anyhow::Result<Config> {
        let mut cfg = cfg.clone();
        for a in &self.assignments {
            cfg = apply(&cfg, &a.key, &a.value)
                .map_err(|e| anyhow!("--sweep {}={}: {e:#}", a.key, render(&a.value)))?;
        }
        Ok(cfg)
    }
}

/// The names of a method's run directories' setting parts, one per
/// setting: the label with every character but ASCII letters, digits and
/// `._-=,+` made `_`, empty for the configured setting. A label that would
/// be too long, or the same as another's after that, is `setting<i>`
/// (`i` counting the method's settings from 1).
pub fn dir_labels(settings: &[Setting], method: &str) -> Vec<String> {
    let safe: Vec<String> = settings
        .iter()
        .map(|s| {
            s.label(method)
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-=,+".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .collect();
    safe.iter()
        .enumerate()
        .map(|(i, label)| {
            let clash = safe.iter().filter(|l| *l == label).count() > 1;
            if clash || label.len() > MAX_DIR_LABEL {
                format!("setting{}", i + 1)
            } else {
                label.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_the_product_of_the_method_sweeps() {
        let sweeps: Vec<Sweep> = [
            "lgso.samples_per_point=3,10",
            "cmaes.samples=1,2,4",
            "lgso.surrogate=gan,mdn",
            "monitor.samples=100",
        ]
        .iter()
        .map(|r| Sweep::parse(r).unwrap())
        .collect();
        let lgso = Setting::all_for(&sweeps, "lgso");
        let labels: Vec<String> = lgso.iter().map(|s| s.label("lgso")).collect();
        assert_eq!(
            labels,
            [
                "samples_per_point=3,surrogate=gan,monitor.samples=100",
                "samples_per_point=3,surrogate=mdn,monitor.samples=100",
                "samples_per_point=10,surrogate=gan,monitor.samples=100",
                "samples_per_point=10,surrogate=mdn,monitor.samples=100",
            ]
        );
        assert_eq!(
            lgso[1].describe(),
            "lgso.samples_per_point=3, lgso.surrogate=mdn, monitor.samples=100"
        );
        let cfg = lgso[3].apply(&Config::default()).unwrap();
        assert_eq!(cfg.lgso.samples_per_point, Some(10));
        assert_eq!(cfg.lgso.surrogate.as_deref(), Some("mdn"));
        assert_eq!(cfg.monitor.samples, Some(100));
        assert_eq!(Setting::all_for(&sweeps, "cmaes").len(), 3);
        // no sweep for the method: its configured setting
        let bo = Setting::all_for(&sweeps[..3], "bo");
        assert_eq!(bo, [Setting::default()]);
        assert_eq!(bo[0].label("bo"), "");
    }

    #[test]
    fn dir_labels_are_safe_and_distinct() {
        let sweeps = [Sweep::parse("gan.generator_hidden=[64,64],[100,100,100]").unwrap()];
        let settings = Setting::all_for(&sweeps, "lgso");
        assert_eq!(
            dir_labels(&settings, "lgso"),
            [
                "gan.generator_hidden=_64,64_",
                "gan.generator_hidden=_100,100,100_"
            ]
        );
        // `a b` and `a/b` both become `a_b`: numbered instead
        let sweeps = [Sweep::parse("lgso.surrogate=a b,a/b,c").unwrap()];
        let settings = Setting::all_for(&sweeps, "lgso");
        assert_eq!(
            dir_labels(&settings, "lgso"),
            ["setting1", "setting2", "surrogate=c"]
        );
        assert_eq!(dir_labels(&[Setting::default()], "lgso"), [""]);
    }
}
