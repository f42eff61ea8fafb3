//! What a typed line means. Pure: the loop in `app` acts on the result.

use udprelay_shared::GroupId;

/// One line the user typed, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A blank line.
    Nothing,
    /// `create [--join] [--cap N]`
    Create {
        join: bool,
        cap: Option<u32>,
    },
    /// `join <id>`
    Join(GroupId),
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
const CREATE_USAGE: &str = "[cli] usage: create [--join] [--cap N]";
const JOIN_USAGE: &str = "[cli] usage: join <group_id>";
const LEAVE_USAGE: &str = "[cli] usage: leave [<group_id>]";

/// The help text, a line each.
pub const HELP: &[&str] = &[
    "Helpers:",
    "  create [--join] [--cap N]  make a group (and join it); --cap N limits it to N members",
    "  join <id>                  join a group, leaving the current one (lower case is fine)",
    "  leave [<id>]               leave the current group",
    "  who                        show your group and how many are in it",
    "  ping                       ask the server for its heartbeat interval",
    "  status                     show this client's state",
    "  help                       show this help",
    "  quit | exit                leave the group and quit (Ctrl-D and Ctrl-C too)",
    "Anything else is a message for your current group.",
];

pub fn parse(line: &str) -> Input {
    let line = line.trim();
    let mut words = line.split_whitespace();
    let Some(first) = words.next() else { return Input::Nothing };
    let rest: Vec<&str> = words.collect();
    if line.starts_with('!') {
        return Input::Refused(BANG_REFUSED.into());
    }
    match first.to_ascii_lowercase().as_str() {
        "quit" | "exit" if rest.is_empty() => return Input::Quit,
        "help" if rest.is_empty() => return Input::Help,
        "status" if rest.is_empty() => return Input::Status,
        _ => {}
    }
    match first {
        "create" => parse_create(&rest),
        "join" => match rest[..] {
            [id] => group_id(id).map_or_else(Input::Refused, Input::Join),
            _ => Input::Refused(JOIN_USAGE.into()),
        },
        "leave" => match rest[..] {
            [] => Input::Leave(None),
            [id] => group_id(id).map_or_else(Input::Refused, |id| Input::Leave(Some(id))),
            _ => Input::Refused(LEAVE_USAGE.into()),
        },
        "who" => Input::Who,
        "ping" => Input::Ping,
        _ => Input::Message(line.to_string()),
    }
}

fn parse_create(args: &[&str]) -> Input {
    let (mut join, mut cap) = (false, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match *arg {
            "--join" => join = true,
            "--cap" => match args.next().and_then(|n| n.parse::<u32>().ok()) {
                Some(n) if n > 0 => cap = Some(n),
                _ => return Input::Refused(CREATE_USAGE.into()),
            },
            _ => return Input::Refused(CREATE_USAGE.into()),
        }
    }
    Input::Create { join, cap }
}

fn group_id(text: &str) -> Result<GroupId, String> {
    GroupId::parse_lenient(text).map_err(|why| format!("[cli] not a group id: '{text}' ({why})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> GroupId {
        text.parse().unwrap()
    }

    #[test]
    fn helpers() {
        assert_eq!(parse("create"), Input::Create { join: false, cap: None });
        assert_eq!(parse("create --join"), Input::Create { join: true, cap: None });
        assert_eq!(parse("create --cap 5 --join"), Input::Create { join: true, cap: Some(5) });
        assert_eq!(parse("join abcd1234"), Input::Join(id("ABCD1234")));
        assert_eq!(parse("  join   ABCD1234  "), Input::Join(id("ABCD1234")));
        assert_eq!(parse("leave"), Input::Leave(None));
        assert_eq!(parse("leave abcd1234"), Input::Leave(Some(id("ABCD1234"))));
        assert_eq!(parse("who"), Input::Who);
        assert_eq!(parse("ping"), Input::Ping);
        assert_eq!(parse("status"), Input::Status);
        assert_eq!(parse("HELP"), Input::Help);
        assert_eq!(parse("quit"), Input::Quit);
        assert_eq!(parse("Exit"), Input::Quit);
        assert_eq!(parse("   "), Input::Nothing);
    }

    #[test]
    fn messages() {
        assert_eq!(parse("hello there"), Input::Message("hello there".into()));
        assert_eq!(parse("  don't   trim inside  "), Input::Message("don't   trim inside".into()));
        // A helper word inside a sentence does not make it a command.
        assert_eq!(parse("quit smoking"), Input::Message("quit smoking".into()));
        assert_eq!(parse("Who is there?"), Input::Message("Who is there?".into()));
    }

    #[test]
    fn refusals_explain_themselves() {
        assert_eq!(parse("!JOIN ABCD1234"), Input::Refused(BANG_REFUSED.into()));
        assert_eq!(parse("join"), Input::Refused("[cli] usage: join <group_id>".into()));
        assert_eq!(parse("join a b"), Input::Refused("[cli] usage: join <group_id>".into()));
        assert_eq!(
            parse("join abc"),
            Input::Refused(
                "[cli] not a group id: 'abc' (a group id has 8 characters, not 3)".into()
            )
        );
        assert_eq!(
            parse("leave ABCD0000"),
            Input::Refused(
                "[cli] not a group id: 'ABCD0000' ('0' cannot be in a group id (letters A-Z except O, digits 1-9))"
                    .into()
            )
        );
        for bad in ["create --cap", "create --cap 0", "create --cap x", "create now"] {
            assert_eq!(
                parse(bad),
                Input::Refused("[cli] usage: create [--join] [--cap N]".into()),
                "{bad}"
            );
        }
    }
}
