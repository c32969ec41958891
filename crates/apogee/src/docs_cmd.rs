//! `apogee completions <shell>` and `apogee manpage`: generated from the
//! CLI definition itself, so they never drift from the flags.

use std::io::Write;

use anyhow::{Context, Result};
use clap::Command;
use clap_complete::Shell;

/// Options of `apogee completions`.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the completion script for `shell` to stdout.
///
/// # Errors
/// Writing to stdout fails.
pub fn completions(mut cli: Command, args: &CompletionsArgs) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "apogee", &mut out);
    write_stdout(&out)
}

/// Writes a roff man page of `apogee` and every subcommand (admin commands
/// included) to stdout: `apogee manpage > apogee.1`.
///
/// # Errors
/// Rendering or writing to stdout fails.
pub fn manpage(mut cli: Command) -> Result<()> {
    // Building propagates the version into every subcommand's page.
    cli.build();
    let mut out = Vec::new();
    let name = cli.get_name().to_owned();
    render_page(cli, &name, &mut out)?;
    write_stdout(&out)
}

/// The top page, then each subcommand's page under it (`apogee-admin`, …),
/// concatenated: one file a packager installs as apogee.1.
fn render_page(cmd: Command, title: &str, out: &mut Vec<u8>) -> Result<()> {
    // clap's generated `help` subcommands are no pages of their own.
    let subs: Vec<Command> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .cloned()
        .collect();
    clap_mangen::Man::new(cmd.display_name(title.to_owned()))
        .render(out)
        .context("cannot render the man page")?;
    for sub in subs {
        let name = format!("{title}-{}", sub.get_name());
        render_page(sub, &name, out)?;
    }
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Command {
        Command::new("apogee")
            .version("9.9")
            .propagate_version(true)
            .about("top")
            .subcommand(Command::new("admin").subcommand(Command::new("topicList")))
    }

    #[test]
    fn the_man_page_covers_every_subcommand() {
        let mut out = Vec::new();
        let mut cmd = sample();
        cmd.build();
        render_page(cmd, "apogee", &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for name in ["apogee", "apogee-admin", "apogee-admin-topicList"] {
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!(".TH {name} 1 ")))
                .unwrap_or_else(|| panic!("{name}: {text}"));
            assert!(line.ends_with(" 9.9\" "), "{line}");
        }
        assert!(!text.contains("apogee-help"), "{text}");
    }
}
