//! What a typed line means. Pure: the loop in `app` acts on the result.
//!
//! A line is a helper (in any case, or as an IRC-style `/join`), or a message for the group.
//! Nothing that looks like a helper goes out as chat by mistake: a helper with the wrong
//! arguments, or a word one keystroke away from a helper, is refused with the reason, and a
//! line that starts with a space is always a message (minus that space).

use udprelay_client::e2e::Invite;
use udprelay_shared::{GroupId, InvalidGroupId};

/// One line the user typed, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A blank line.
    Nothing,
    /// `create [--join [--encrypted]] [--cap N]`
    Create {
        join: bool,
        cap: Option<u32>,
        /// A private group: end-to-end encrypted (needs `--join`).
        encrypted: bool,
    },
    /// `join <id>`
    Join(GroupId),
    /// `join udprelay://HOST:PORT/ID[#SECRET]`
    JoinInvite(Invite),
    /// `invite`: the current group's invite.
    Invite,
    /// `leave [<id>]`: no id means the current group.
    Leave(Option<GroupId>),
    Who,
    Ping,
    Status,
    Help,
    /// `quit` or `exit`
    Quit,
    /// A chat message for the current group.
    Message(String),
    /// Not acted on; the line explains why.
    Refused(String),
}

pub const BANG_REFUSED: &str = "[cli] error: direct '!' commands are not allowed. Use helpers like 'create', 'join', 'leave', 'ping', or 'who'.";
const CREATE_USAGE: &str = "usage: create [--join [--encrypted]] [--cap N]";
const JOIN_USAGE: &str = "[cli] usage: join <group_id>";
const LEAVE_USAGE: &str = "[cli] usage: leave [<group_id>]";
const AS_MESSAGE: &str = "to send it as a message, start the line with a space";

/// The helpers, by the word that names them.
const HELPERS: &[&str] =
    &["create", "join", "leave", "who", "invite", "ping", "status", "help", "quit", "exit"];

/// The help text, a line each.
pub const HELP: &[&str] = &[
    "Helpers (any case; /join, /leave, /who, /quit ... work too):",
    "  create [--join] [--cap N]  make a group (and join it); --cap N limits it to N members",
    "  create --join --encrypted  make a private group: only holders of its invite read it",
    "  join <id> | join <invite>  join a group, leaving the current one (lower case is fine)",
    "  invite                     show the current group's invite link, to share",
    "  leave [<id>]               leave the current group",
    "  who                        show your group and how many are in it",
    "  ping                       ask the server for its heartbeat interval",
    "  status                     show this client's state",
    "  help                       show this help",
    "  quit | exit                leave the group and quit (Ctrl-D and Ctrl-C too)",
    "Anything else is a message for your current group. To send a line that starts like a",
    "helper, start it with a space (' join us!'); to send one that starts with '/', use '//'.",
];

pub fn parse(line: &str) -> Input {
    if line.trim().is_empty() {
        return Input::Nothing;
    }
    // A leading space: a message exactly as typed, minus that space.
    if let Some(text) = line.strip_prefix(' ') {
        return message(text.to_string());
    }
    let line = line.trim();
    if let Some(text) = line.strip_prefix("//") {
        return message(format!("/{text}"));
    }
    if line.starts_with('!') {
        return Input::Refused(BANG_REFUSED.into());
    }
    let (word, rest) = split_first_word(line);
    if let Some(alias) = word.strip_prefix('/') {
        return match helper(&alias.to_lowercase(), word, rest) {
            Some(input) => input,
            None => Input::Refused(format!(
                "[cli] '{word}' is not a command (type 'help' for the list); to send it as a message, start the line with //"
            )),
        };
    }
    let lowered = word.to_lowercase();
    if let Some(input) = helper(&lowered, word, rest) {
        return input;
    }
    if let Some(meant) = near_miss(&lowered, rest) {
        return Input::Refused(format!(
            "[cli] '{word}' is not a command (did you mean '{meant}'?); {AS_MESSAGE}"
        ));
    }
    message(line.to_string())
}

/// The helper `word` names (lower-cased; `typed` as it was typed), with its arguments checked.
fn helper(word: &str, typed: &str, rest: &str) -> Option<Input> {
    let args: Vec<&str> = rest.split_whitespace().collect();
    let bare = |input: Input| {
        if args.is_empty() {
            input
        } else {
            Input::Refused(format!("[cli] '{typed}' takes nothing after it; {AS_MESSAGE}"))
        }
    };
    Some(match word {
        "create" => parse_create(&args),
        "join" => match args[..] {
            [link] if Invite::is_meant(link) => link
                .parse::<Invite>()
                .map_or_else(|why| Input::Refused(format!("[cli] {why}")), Input::JoinInvite),
            [id] => group_id(id).map_or_else(Input::Refused, Input::Join),
            _ => Input::Refused(JOIN_USAGE.into()),
        },
        "leave" => match args[..] {
            [] => Input::Leave(None),
            [id] => group_id(id).map_or_else(Input::Refused, |id| Input::Leave(Some(id))),
            _ => Input::Refused(LEAVE_USAGE.into()),
        },
        "who" => bare(Input::Who),
        "invite" => bare(Input::Invite),
        "ping" => bare(Input::Ping),
        "status" => bare(Input::Status),
        "help" => bare(Input::Help),
        "quit" | "exit" => bare(Input::Quit),
        _ => return None,
    })
}

/// The helper a word of four or more letters is one keystroke away from (a letter added,
/// dropped, changed, or two swapped), when the rest of the line fits that helper. Shorter
/// words are left alone: too many real words ("why", "pin") are that close to one.
fn near_miss(word: &str, rest: &str) -> Option<&'static str> {
    if word.chars().count() < 4 {
        return None;
    }
    let meant = HELPERS.iter().copied().find(|helper| one_edit_apart(word, helper))?;
    let args: Vec<&str> = rest.split_whitespace().collect();
    let fits = match meant {
        "create" => args.iter().all(|arg| arg.starts_with("--") || arg.parse::<u32>().is_ok()),
        "join" | "leave" => match args[..] {
            [] => true,
            [id] => id.chars().all(|c| c.is_ascii_alphanumeric()),
            _ => false,
        },
        _ => args.is_empty(),
    };
    fits.then_some(meant)
}

/// Whether one insertion, deletion, substitution or swap of neighbours turns `a` into `b`.
fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a == b {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    match a.len() as isize - b.len() as isize {
        0 => a[1..] == b[1..] || (a.len() >= 2 && a[0] == b[1] && a[1] == b[0] && a[2..] == b[2..]),
        1 => a[1..] == *b,
        -1 => *a == b[1..],
        _ => false,
    }
}

fn split_first_word(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (line, ""),
    }
}

fn message(text: String) -> Input {
    if text.starts_with('!') { Input::Refused(BANG_REFUSED.into()) } else { Input::Message(text) }
}

fn parse_create(args: &[&str]) -> Input {
    let (mut join, mut cap, mut encrypted) = (false, None, false);
    let mut args = args.iter();
    let refuse = |why: String| Input::Refused(format!("[cli] {why}; {CREATE_USAGE}"));
    while let Some(arg) = args.next() {
        match arg.to_lowercase().as_str() {
            "--join" => join = true,
            "--encrypted" => encrypted = true,
            "--cap" => match args.next() {
                Some(n) => match n.parse::<u32>() {
                    Ok(n) if n > 0 => cap = Some(n),
                    _ => return refuse(format!("--cap needs a whole number above 0, not '{n}'")),
                },
                None => return refuse("--cap needs a number after it".into()),
            },
            _ => return refuse(format!("create does not take '{arg}'")),
        }
    }
    if encrypted && !join {
        return refuse(
            "--encrypted needs --join (the group's key is the creator's to share)".into(),
        );
    }
    Input::Create { join, cap, encrypted }
}

/// An id as the user typed it, checked here; the reason quotes what they typed (`join nosuch`
/// is refused for its `o`, not for the `O` the server would see).
fn group_id(text: &str) -> Result<GroupId, String> {
    GroupId::parse_lenient(text).map_err(|why| {
        let why = match why {
            InvalidGroupId::Character(upper) => {
                let typed = text.chars().find(|c| c.to_uppercase().any(|u| u == upper));
                InvalidGroupId::Character(typed.unwrap_or(upper))
            }
            length => length,
        };
        format!("[cli] not a group id: '{text}' ({why})")
    })
}

#[cfg(test)]
mod tests;
