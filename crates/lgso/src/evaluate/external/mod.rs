//! External simulators: any executable speaking simulator protocol v1
//! (docs/protocol.md) over stdin/stdout, run in a pool of worker processes.
//!
//! - [`protocol`]: the messages (handshake, batch, answer) and their
//!   parsing, including non-finite numbers.
//! - [`WorkerPool`] (pool.rs): `W` simulator processes; an
//!   [`Evaluator`](crate::evaluate::Evaluator) that splits requests into
//!   chunks with seeds independent of `W`, groups them into batch
//!   messages, and detects and retries failures (exit, crash, garbage,
//!   timeout). One running process and its I/O threads are in process.rs,
//!   the bookkeeping of one evaluation (plan, answer checks, results) in
//!   run.rs.
//! - [`split_command`]: turns a command string such as
//!   `python3 "my sim.py" --fast` into an argument vector (no shell is ever
//!   run).

mod pool;
mod process;
pub mod protocol;
mod run;

pub use pool::{PoolOptions, WorkerPool};
pub use protocol::{Handshake, PROTOCOL};

use crate::error::{Error, Result};

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
}
