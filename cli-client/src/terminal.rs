//! Where lines come from and go to. On a terminal: rustyline, with line editing and history,
//! and an external printer that shows incoming lines above the prompt while keeping the
//! half-typed line intact. Otherwise (a pipe, a script): plain lines, no prompt.
//!
//! On a terminal, lines are printed by a thread of their own. Rustyline's printer waits while
//! the editor is busy (its queue holds one line), and the client's loop must never wait for the
//! screen: it has heartbeats to send and typed lines to act on, however many messages arrive.

use std::io::{self, BufRead, IsTerminal};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::input::{self, Input};

/// What the user gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserInput {
    Line(String),
    /// End of input: Ctrl-D, Ctrl-C at the prompt, or the end of a pipe.
    End,
}

type Printer = Box<dyn ExternalPrinter + Send>;

/// Lines waiting for the screen at most; past that, lines are counted and not shown, so a
/// flood cannot grow memory while the terminal is stuck (scrolled back, or in a search).
const OUTPUT_QUEUE: usize = 10_000;

/// The user's side: lines in, lines out.
pub struct Terminal {
    pub lines: UnboundedReceiver<UserInput>,
    pub interactive: bool,
    output: Option<Output>,
    reader: Option<JoinHandle<()>>,
}

/// The printing thread's end.
struct Output {
    queue: Sender<String>,
    dropped: Arc<AtomicU64>,
    thread: JoinHandle<()>,
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
        let (lines_tx, lines) = unbounded_channel();
        let (printer_tx, printer_rx) = bounded(1);
        let reader = thread::Builder::new()
            .name("udprelay-input".into())
            .spawn(move || edit_lines(lines_tx, printer_tx))?;
        let printer = printer_rx.recv().map_err(|_| io::Error::other("the line editor stopped"))?;
        let printer = printer.map_err(|error| io::Error::other(error.to_string()))?;
        let (queue, waiting) = bounded(OUTPUT_QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&dropped);
        let thread = thread::Builder::new()
            .name("udprelay-output".into())
            .spawn(move || print_lines(printer, waiting, counted))?;
        let output = Some(Output { queue, dropped, thread });
        Ok(Terminal { lines, interactive: true, output, reader: Some(reader) })
    }

    fn piped() -> Terminal {
        let (tx, lines) = unbounded_channel();
        let reader = thread::spawn(move || {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(UserInput::Line(line)).is_err() {
                    return;
                }
            }
            let _ = tx.send(UserInput::End);
        });
        Terminal { lines, interactive: false, output: None, reader: Some(reader) }
    }

    /// Shows one line; on a terminal, above the prompt and what is being typed. Never waits
    /// for the screen.
    pub fn show(&mut self, line: &str) {
        let Some(output) = &self.output else {
            println!("{line}");
            return;
        };
        match output.queue.try_send(line.to_string()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                output.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(line)) => println!("{line}"),
        }
    }

    /// Prints what is still queued, then ends line editing (restoring the terminal) before the
    /// last words are printed. The editor thread has stopped by itself after the line or key
    /// that ended the session; a piped reader may still be blocked reading, and is left to the
    /// process exit.
    pub fn finish(&mut self) {
        if let Some(Output { queue, thread, .. }) = self.output.take() {
            drop(queue);
            let _ = thread.join();
        }
        if self.interactive
            && let Some(reader) = self.reader.take()
        {
            let _ = reader.join();
        }
    }
}

/// The printing thread: each line above the prompt, in order, with its newline (rustyline
/// writes a line as given when the editor is between two lines, and the next prompt would
/// overwrite one without).
fn print_lines(mut printer: Printer, lines: Receiver<String>, dropped: Arc<AtomicU64>) {
    for line in lines {
        let missed = dropped.swap(0, Ordering::Relaxed);
        if missed > 0 {
            let note = format!("[cli] {missed} lines not shown: the terminal was not keeping up\n");
            let _ = printer.print(note);
        }
        if printer.print(format!("{line}\n")).is_err() {
            println!("{line}");
        }
    }
}

/// The editor thread: reads lines until one ends the session.
fn edit_lines(lines: UnboundedSender<UserInput>, printer: Sender<Result<Printer, ReadlineError>>) {
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
