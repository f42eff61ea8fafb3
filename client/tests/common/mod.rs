//! What the library's tests against the real server share: a runtime and a bounded wait for
//! an event.

#![allow(dead_code)] // each test file uses its own share of these

use tokio::time::timeout;
use udprelay_client::{Event, Events};
use udprelay_testkit::WAIT;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The next event that `wanted` picks, within the bounded wait.
pub async fn next<T>(events: &mut Events, mut wanted: impl FnMut(Event) -> Option<T>) -> T {
    let found = timeout(WAIT, async {
        while let Some(event) = events.recv().await {
            if let Some(found) = wanted(event) {
                return Some(found);
            }
        }
        None
    });
    found.await.expect("within the wait").expect("the events go on")
}
