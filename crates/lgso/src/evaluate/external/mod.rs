//! External simulators: any executable speaking simulator protocol v1
//! (docs/protocol.md) over stdin/stdout, run in a pool of worker processes.
//!
//! - [`protocol`]: the messages (handshake, batch, answer) and their
//!   parsing, including non-finite numbers.
//! - [`WorkerPool`]: `W` simulator processes; an [`crate::evaluate::Evaluator`]
//!   that splits requests into chunks with seeds independent of `W`,
//!   groups them into batch messages, and detects and retries failures
//!   (exit, crash, garbage, timeout).
//! - [`split_command`]: turns a command string such as
//!   `python3 "my sim.py" --fast` into an argument vector (no shell is ever
//!   run).
//! - [`Quadratic`]: the trivial simulator of `lgso-toy-sim --model
//!   quadratic` and `lgso bench-protocol`, also usable in-process.

mod pool;
pub mod protocol;

use rand::Rng as _;
use rand_distr::StandardNormal;

pub use pool::{PoolOptions, WorkerPool};
pub use protocol::{Handshake, PROTOCOL};

use crate::data::Matrix;
use crate::error::{check_vector, Error, Result};
use crate::problem::{Dims, Simulator};
use crate::seed::Rng;

/// Splits a command string into an argument vector the way a POSIX shell
/// splits words, without running a shell: words are separated by
/// whitespace; `'...'` quotes literally; `"..."` quotes with `\"`, `\\`,
/// `` \` `` and `\$` as escapes; outside quotes a backslash escapes the next
/// character. No variables, globs, pipes or redirections.
///
/// # Errors
/// [`Error::Config`] (key `simulator`) for an unterminated quote, a
/// trailing backslash, or an empty command.
pub fn split_command(command: &str) -> Result<Vec<String>> {
    let bad = |why: &str| {
        Error::config(
            "simulator",
            format!("a command line such as 'python3 sim.py --fast' ({why})"),
            format!("`{command}`"),
        )
    };
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(bad("unterminated single quote")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '`' | '$')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(bad("unterminated double quote")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(bad("unterminated double quote")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => return Err(bad("trailing backslash")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err(bad("empty command"));
    }
    Ok(words)
}

/// A trivial stochastic simulator, the "quadratic" model of `lgso-toy-sim`:
/// `psi: [n]`, `x ~ U(0, 1)` (`d = 1`, unused by y),
/// `y = sum_j (psi_j - 1)^2 + 0.1 z`, `z ~ N(0, 1)` (`m = 1`). With
/// `R(y) = y`, `E[R] = ||psi - 1||^2` and `sd(y) = 0.1`.
///
/// Draw order per request (what makes an external and an in-process run
/// identical): all x first ([`Simulator::sample_x`]), then one normal per
/// sample.
#[derive(Debug, Clone, Copy)]
pub struct Quadratic {
    /// `n`, the dimension of psi.
    pub dim: usize,
}

impl Simulator for Quadratic {
    fn name(&self) -> &str {
        "quadratic"
    }

    fn dims(&self) -> Dims {
        Dims {
            psi: self.dim,
            x: 1,
            y: 1,
        }
    }

    fn sample_x(&self, count: usize, rng: &mut Rng) -> Matrix {
        let data = (0..count).map(|_| rng.random::<f64>()).collect();
        Matrix::from_vec(count, 1, data).unwrap_or_else(|_| Matrix::zeros(count, 1))
    }

    fn simulate(&self, psi: &[f64], x: &Matrix, rng: &mut Rng) -> Result<Matrix> {
        check_vector("psi of the quadratic simulator", psi, self.dim)?;
        let mean: f64 = psi.iter().map(|p| (p - 1.0) * (p - 1.0)).sum();
        let y = (0..x.rows())
            .map(|_| mean + 0.1 * rng.sample::<f64, _>(StandardNormal))
            .collect();
        Matrix::from_vec(x.rows(), 1, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_like_a_shell() {
        let w = |s: &str| split_command(s).unwrap();
        assert_eq!(w("python3 sim.py --fast"), ["python3", "sim.py", "--fast"]);
        assert_eq!(
            w("  a   'b c'  \"d \\\" e\" f\\ g "),
            ["a", "b c", "d \" e", "f g"]
        );
        assert_eq!(w("a'b'\"c\"d"), ["abcd"]);
        assert_eq!(w("a '' b"), ["a", "", "b"]);
        assert_eq!(w(r#""a\nb""#), [r"a\nb"]);
        for bad in ["", "   ", "a 'b", "a \"b", "a\\"] {
            assert!(split_command(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quadratic_moments() {
        // y = ||psi - 1||^2 + 0.1 z: at psi = (3, 0), mean 5, sd 0.1; 4
        // standard errors over 4000 draws = 0.0063.
        let s = crate::problem::draw(&Quadratic { dim: 2 }, &[3.0, 0.0], 4000, 9).unwrap();
        let mean = s.y.as_slice().iter().sum::<f64>() / 4000.0;
        assert!((mean - 5.0).abs() < 0.0063, "{mean}");
        assert!(s.x.as_slice().iter().all(|v| (0.0..1.0).contains(v)));
    }
}
