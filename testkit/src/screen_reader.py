"""A screen reader's questions, asked through Debian's pyatspi (testkit's desktop.rs runs it).

    tree APP               every node of the application named APP, one JSON object a line:
                           {"depth", "role", "name", "text"}
    click APP NAME         the default action of the push button named NAME
    type APP NAME TEXT     sets the text of the text box named NAME, as a screen reader can

The application must be on the accessibility bus within ten seconds; every wait is bounded.
"""

import json
import sys
import time

import pyatspi

WAIT = 10.0
MOST_NODES = 20000


def application(name):
    deadline = time.monotonic() + WAIT
    while True:
        desktop = pyatspi.Registry.getDesktop(0)
        seen = []
        for index in range(desktop.childCount):
            app = desktop.getChildAtIndex(index)
            if app is None:
                continue
            seen.append(app.name)
            if app.name == name:
                return app
        if time.monotonic() > deadline:
            sys.exit(f"no application named {name!r} on the bus (there: {seen})")
        time.sleep(0.1)


def nodes(root):
    """Depth first, with depths; bounded."""
    stack = [(root, 0)]
    count = 0
    while stack and count < MOST_NODES:
        node, depth = stack.pop()
        count += 1
        yield node, depth
        children = [node.getChildAtIndex(i) for i in range(node.childCount)]
        stack.extend((child, depth + 1) for child in reversed(children) if child is not None)


def text_of(node):
    try:
        text = node.queryText()
    except NotImplementedError:
        return None
    return text.getText(0, text.characterCount)


def find(app, role, name):
    """The node named `name` whose role is `role` (None: any that takes text)."""
    deadline = time.monotonic() + WAIT
    while True:
        for node, _ in nodes(app):
            if node.name != name:
                continue
            if role is None:
                try:
                    node.queryEditableText()
                    return node
                except NotImplementedError:
                    continue
            if node.getRoleName() == role:
                return node
        if time.monotonic() > deadline:
            sys.exit(f"no {role} named {name!r}")
        time.sleep(0.1)


def main(args):
    question, app = args[0], application(args[1])
    if question == "tree":
        for node, depth in nodes(app):
            line = {"depth": depth, "role": node.getRoleName(), "name": node.name,
                    "text": text_of(node)}
            print(json.dumps(line, ensure_ascii=False))
    elif question == "click":
        button = find(app, "push button", args[2])
        action = button.queryAction()
        names = [action.getName(i) for i in range(action.nActions)]
        action.doAction(0)
        print(json.dumps({"clicked": args[2], "actions": names}))
    elif question == "type":
        entry = find(app, None, args[2])
        entry.queryEditableText().setTextContents(args[3])
        print(json.dumps({"typed": args[3]}))
    else:
        sys.exit(f"unknown question {question!r}")


main(sys.argv[1:])
