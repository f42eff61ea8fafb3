use super::*;

fn id(text: &str) -> GroupId {
    text.parse().unwrap()
}

fn refused(line: &str) -> String {
    match parse(line) {
        Input::Refused(why) => why,
        other => panic!("{line:?} was not refused: {other:?}"),
    }
}

#[test]
fn helpers() {
    assert_eq!(parse("create"), Input::Create { join: false, cap: None, encrypted: false });
    assert_eq!(parse("create --join"), Input::Create { join: true, cap: None, encrypted: false });
    assert_eq!(
        parse("create --cap 5 --join"),
        Input::Create { join: true, cap: Some(5), encrypted: false }
    );
    assert_eq!(parse("join abcd1234"), Input::Join(id("ABCD1234")));
    assert_eq!(parse("join   ABCD1234  "), Input::Join(id("ABCD1234")));
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
fn helpers_in_any_case() {
    assert_eq!(parse("JOIN abcd1234"), Input::Join(id("ABCD1234")));
    assert_eq!(parse("Who"), Input::Who);
    assert_eq!(parse("PING"), Input::Ping);
    assert_eq!(parse("Create --JOIN"), Input::Create { join: true, cap: None, encrypted: false });
    assert_eq!(parse("LEAVE"), Input::Leave(None));
    assert_eq!(
        refused("JOIN abc"),
        "[cli] not a group id: 'abc' (a group id has 8 characters, not 3)"
    );
}

#[test]
fn irc_habits() {
    assert_eq!(parse("/join abcd1234"), Input::Join(id("ABCD1234")));
    assert_eq!(parse("/leave"), Input::Leave(None));
    assert_eq!(parse("/who"), Input::Who);
    assert_eq!(parse("/quit"), Input::Quit);
    assert_eq!(parse("/help"), Input::Help);
    assert_eq!(parse("/create --join"), Input::Create { join: true, cap: None, encrypted: false });
    assert_eq!(parse("/JOIN abcd1234"), Input::Join(id("ABCD1234")));
    assert_eq!(parse("//shrug"), Input::Message("/shrug".into()));
    assert_eq!(parse("// not a command"), Input::Message("/ not a command".into()));
    assert_eq!(
        refused("/me waves"),
        "[cli] '/me' is not a command (type 'help' for the list); to send it as a message, start the line with //"
    );
}

#[test]
fn near_misses_are_not_sent() {
    for (line, meant) in [
        ("crate --join", "create"),
        ("crate", "create"),
        ("jion abcd1234", "join"),
        ("leve", "leave"),
        ("staus", "status"),
        ("qiut", "quit"),
        ("hlep", "help"),
        ("Jion ABCD1234", "join"),
    ] {
        let word = line.split(' ').next().unwrap();
        assert_eq!(
            refused(line),
            format!(
                "[cli] '{word}' is not a command (did you mean '{meant}'?); to send it as a message, start the line with a space"
            )
        );
    }
}

#[test]
fn helpers_with_the_wrong_arguments_are_not_sent() {
    assert_eq!(
        refused("QUIT now"),
        "[cli] 'QUIT' takes nothing after it; to send it as a message, start the line with a space"
    );
    assert!(refused("Who is there?").starts_with("[cli] 'Who' takes nothing after it"));
    assert_eq!(refused("join"), "[cli] usage: join <group_id>");
    assert_eq!(refused("join a b"), "[cli] usage: join <group_id>");
}

#[test]
fn ordinary_chat_is_left_alone() {
    for line in [
        "hello there",
        "why not?",
        "pint anyone",
        "hell yes",
        "coin toss for it",
        "joined the team today",
        "creates problems",
        "exiting now, bye",
    ] {
        assert_eq!(parse(line), Input::Message(line.into()), "{line}");
    }
    assert_eq!(parse("don't   trim inside  "), Input::Message("don't   trim inside".into()));
}

#[test]
fn a_leading_space_sends_the_line_as_typed() {
    assert_eq!(parse(" join us!"), Input::Message("join us!".into()));
    assert_eq!(parse(" crate of apples"), Input::Message("crate of apples".into()));
    assert_eq!(parse("  two spaces "), Input::Message(" two spaces ".into()));
    assert_eq!(parse(" /join"), Input::Message("/join".into()));
    assert_eq!(parse(" !JOIN ABCD1234"), Input::Refused(BANG_REFUSED.into()));
}

#[test]
fn refusals_explain_themselves() {
    assert_eq!(parse("!JOIN ABCD1234"), Input::Refused(BANG_REFUSED.into()));
    assert_eq!(
        refused("leave ABCD0000"),
        "[cli] not a group id: 'ABCD0000' ('0' cannot be in a group id (letters A-Z except O, digits 1-9))"
    );
    // What the user typed is quoted, not the upper-cased form the server would see.
    assert_eq!(
        refused("join nosuch12"),
        "[cli] not a group id: 'nosuch12' ('o' cannot be in a group id (letters A-Z except O, digits 1-9))"
    );
    assert_eq!(
        refused("create --cap abc"),
        "[cli] --cap needs a whole number above 0, not 'abc'; usage: create [--join [--encrypted]] [--cap N]"
    );
    assert_eq!(
        refused("create --cap 0"),
        "[cli] --cap needs a whole number above 0, not '0'; usage: create [--join [--encrypted]] [--cap N]"
    );
    assert_eq!(
        refused("create --cap"),
        "[cli] --cap needs a number after it; usage: create [--join [--encrypted]] [--cap N]"
    );
    assert_eq!(
        refused("create now"),
        "[cli] create does not take 'now'; usage: create [--join [--encrypted]] [--cap N]"
    );
}

#[test]
fn one_edit() {
    assert!(one_edit_apart("crate", "create"));
    assert!(one_edit_apart("jion", "join"));
    assert!(one_edit_apart("pong", "ping"));
    assert!(one_edit_apart("leaves", "leave"));
    assert!(!one_edit_apart("join", "join"));
    assert!(!one_edit_apart("jnio", "join"));
    assert!(!one_edit_apart("cat", "create"));
}

#[test]
fn private_groups_and_invites() {
    assert_eq!(
        parse("create --join --encrypted --cap 4"),
        Input::Create { join: true, cap: Some(4), encrypted: true }
    );
    assert!(
        matches!(parse("create --encrypted"), Input::Refused(why) if why.contains("--encrypted needs --join"))
    );
    let link =
        "udprelay://127.0.0.1:5000/abcd1234#A4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQ";
    let Input::JoinInvite(invite) = parse(&format!("join {link}")) else { panic!() };
    assert_eq!(
        (invite.server.as_str(), invite.group.to_string()),
        ("127.0.0.1:5000", "ABCD1234".into())
    );
    assert!(invite.secret.is_some());
    assert_eq!(
        parse("join udprelay://127.0.0.1:5000/ABCD1234#SHORT"),
        Input::Refused("[cli] the invite's secret is damaged (copy the whole link)".into())
    );
    assert_eq!(parse("invite"), Input::Invite);
    assert_eq!(parse("/invite"), Input::Invite);
}
