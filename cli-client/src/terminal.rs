//! Where lines come from and go to. On a terminal: rustyline, with line editing and history,
//! and an external printer that shows incoming lines above the prompt while keeping the
//! half-typed line intact. Otherwise (a pipe, a script): plain lines, no prompt.

use std::io::{self, BufRead, IsTerminal};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};

use crate::input::{self, Input};

/// What the user gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserInput {
    Line(String),
    /// End of input: Ctrl-D, Ctrl-C at the prompt, or the end of a pipe.
    End,
}

type Printer = Box<dyn ExternalPrinter + Send>;

/// The user's side: lines in, lines out.
pub struct Terminal {
    pub lines: Receiver<UserInput>,
    pub interactive: bool,
    printer: Option<Printer>,
    reader: Option<JoinHandle<()>>,
}

impl Terminal {
    /// Interactive when both stdin and stdout are terminals.
    pub fn start() -> io::Result<Terminal> {
        if io::stdin().is_terminal() && io::stdout().is_terminal() {
            Terminal::interactive()
        } else {
            Ok(Terminal::piped())
        }
    }

    fn interactive() -> io::Result<Terminal> {
        let (lines_tx, lines) = unbounded();
        let (printer_tx, printer_rx) = bounded(1);
        let reader = thread::Builder::new()
            .name("udprelay-input".into())
            .spawn(move || edit_lines(lines_tx, printer_tx))?;
        let printer = printer_rx.recv().map_err(|_| io::Error::other("the line editor stopped"))?;
        let printer = printer.map_err(|error| io::Error::other(error.to_string()))?;
        Ok(Terminal { lines, interactive: true, printer: Some(printer), reader: Some(reader) })
    }

    fn piped() -> Terminal {
        let (tx, lines) = unbounded();
        let reader = thread::spawn(move || {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(UserInput::Line(line)).is_err() {
                    return;
                }
            }
            let _ = tx.send(UserInput::End);
        });
        Terminal { lines, interactive: false, printer: None, reader: Some(reader) }
    }

    /// Shows one line; on a terminal, above the prompt and what is being typed.
    pub fn show(&mut self, line: &str) {
        if let Some(printer) = &mut self.printer
            && printer.print(line.to_string()).is_ok()
        {
            return;
        }
        println!("{line}");
    }

    /// Ends line editing (restoring the terminal) before the last words are printed. The
    /// editor thread has stopped by itself after the line or key that ended the session;
    /// a piped reader may still be blocked reading, and is left to the process exit.
    pub fn finish(&mut self) {
        self.printer = None;
        if self.interactive
            && let Some(reader) = self.reader.take()
        {
            let _ = reader.join();
        }
    }
}

/// The editor thread: reads lines until one ends the session.
fn edit_lines(lines: Sender<UserInput>, printer: Sender<Result<Printer, ReadlineError>>) {
    let mut editor = match DefaultEditor::new() {
        Ok(editor) => editor,
        Err(error) => {
            let _ = printer.send(Err(error));
            return;
        }
    };
    match editor.create_external_printer() {
        Ok(external) => {
            let _ = printer.send(Ok(Box::new(external)));
        }
        Err(error) => {
            let _ = printer.send(Err(error));
            return;
        }
    }
    loop {
        match editor.readline("> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                let ends = input::parse(&line) == Input::Quit;
                if lines.send(UserInput::Line(line)).is_err() || ends {
                    return;
                }
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) | Err(_) => {
                let _ = lines.send(UserInput::End);
                return;
            }
        }
    }
}
