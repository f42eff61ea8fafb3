//! Keeping invites' secrets out of the command line. Every user of a Unix machine reads any
//! process's arguments (`ps`, `/proc/PID/cmdline`), and shells keep them in their history; the
//! environment is its owner's alone (`/proc/PID/environ` is 0400). So a program started with a
//! private group's invite among its arguments (as a clicked `udprelay://` link starts it) runs
//! itself again at once, the same process (`exec`), with the invites moved from its arguments
//! into [`INVITE_VAR`]; and a person can give one there, or in a file, from the start.
//!
//! On Windows a process's command line is not readable by other (non-administrator) users, and
//! there is no `exec`: the arguments stay as they are.

use crate::e2e::Invite;

/// The environment variable invites are read from: one per line.
pub const INVITE_VAR: &str = "UDPRELAY_INVITE";

/// `args` (the program's, without its name) split in two: what stays, and the invites that
/// carry a secret, each taken with the `join_flag` before it (`--join LINK`, `--join=LINK`).
pub fn split_secret_invites(args: &[String], join_flag: &str) -> (Vec<String>, Vec<String>) {
    let secret = |text: &str| text.parse::<Invite>().is_ok_and(|invite| invite.secret.is_some());
    let (mut kept, mut invites) = (Vec::new(), Vec::new());
    let mut args = args.iter().peekable();
    while let Some(arg) = args.next() {
        if arg == "--" {
            kept.push(arg.clone());
            let (hidden, rest): (Vec<String>, Vec<String>) =
                args.by_ref().cloned().partition(|arg| secret(arg));
            invites.extend(hidden);
            kept.extend(rest);
            break;
        }
        if arg == join_flag && args.peek().is_some_and(|next| secret(next)) {
            invites.extend(args.next().cloned());
        } else if let Some(link) = arg.strip_prefix(join_flag).and_then(|a| a.strip_prefix('='))
            && secret(link)
        {
            invites.push(link.to_string());
        } else if secret(arg) {
            invites.push(arg.clone());
        } else {
            kept.push(arg.clone());
        }
    }
    (kept, invites)
}

/// Runs this program again without the invites with a secret in its arguments, which go in
/// [`INVITE_VAR`] (before any already there). Returns only when there is nothing to hide, on
/// Windows, or when running again failed (the program then goes on as it was started).
pub fn hide_secret_invites(join_flag: &str) {
    // An argument that is not UTF-8 is no invite; clap says what is wrong with it.
    let args: Option<Vec<String>> =
        std::env::args_os().skip(1).map(|a| a.into_string().ok()).collect();
    let Some(args) = args else { return };
    let (kept, invites) = split_secret_invites(&args, join_flag);
    if invites.is_empty() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let Ok(program) = std::env::current_exe() else { return };
        let mut all = invites; // the command line's first: it is what was asked for now
        all.extend(invites_in_env());
        // What is lost if exec fails is only this attempt: the error is not shown, since the
        // program goes on with the invites where they were.
        let _ =
            std::process::Command::new(program).args(kept).env(INVITE_VAR, all.join("\n")).exec();
    }
    #[cfg(not(unix))]
    let _ = kept;
}

/// The invites (or group ids) in [`INVITE_VAR`], one per line, blank lines skipped.
pub fn invites_in_env() -> Vec<String> {
    let given = std::env::var(INVITE_VAR).unwrap_or_default();
    given.lines().map(str::trim).filter(|line| !line.is_empty()).map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str =
        "udprelay://127.0.0.1:5000/ABCD1234#A4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQ";

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn invites_with_a_secret_leave_the_arguments_and_the_rest_stay() {
        let plain = "udprelay://127.0.0.1:5000/ABCD1234";
        let join_eq = format!("--join={SECRET}");
        let args = strings(&["--name", "ana", SECRET, "--join", SECRET, &join_eq, "--join", plain]);
        let (kept, invites) = split_secret_invites(&args, "--join");
        assert_eq!(
            kept,
            strings(&["--name", "ana", "--join", plain]),
            "a plain invite is no secret"
        );
        assert_eq!(invites, strings(&[SECRET, SECRET, SECRET]));
        let (kept, invites) = split_secret_invites(&strings(&["--", SECRET, "x"]), "--join");
        assert_eq!((kept, invites), (strings(&["--", "x"]), strings(&[SECRET])), "after --");
        let damaged = format!("{SECRET}X");
        let (kept, invites) = split_secret_invites(&strings(&[&damaged]), "--join");
        assert_eq!((kept, invites.len()), (strings(&[&damaged]), 0), "left for the flag check");
    }
}
