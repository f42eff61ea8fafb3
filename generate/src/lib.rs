//! Man pages and shell completions for the udprelay binaries, made from each one's own clap
//! definition, so they never drift from the flags. Each binary takes a hidden
//! `--generate man|bash|zsh|fish` and prints the result (packaging runs it).

use std::io::{self, Write};

use clap::ValueEnum;
use clap_complete::Shell;

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A man page (roff), for section 1.
    Man,
    Bash,
    Zsh,
    Fish,
}

/// Writes `output` for `command` to `out`.
pub fn write(output: Output, mut command: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    let name = command.get_name().to_string();
    let shell = match output {
        Output::Man => return clap_mangen::Man::new(command).render(out),
        Output::Bash => Shell::Bash,
        Output::Zsh => Shell::Zsh,
        Output::Fish => Shell::Fish,
    };
    clap_complete::generate(shell, &mut command, name, out);
    Ok(())
}

/// Prints `output` for `command` to standard output; the process's exit code.
pub fn print(output: Output, command: clap::Command) -> std::process::ExitCode {
    match write(output, command, &mut io::stdout().lock()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> clap::Command {
        clap::Command::new("demo")
            .about("A demo.")
            .arg(clap::arg!(--heartbeat <SECONDS> "Seconds between pings"))
    }

    #[test]
    fn man_pages_and_completions_name_the_flags() {
        for output in Output::value_variants() {
            let mut out = Vec::new();
            write(*output, command(), &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("heartbeat"), "{output:?}: {text}");
        }
        let mut man = Vec::new();
        write(Output::Man, command(), &mut man).unwrap();
        assert!(String::from_utf8(man).unwrap().starts_with(".ie"), "roff");
    }
}
