//! Search over a large history: a store of 1 000 000 messages in 20 groups, as the window
//! keeps them. How long indexing a store made before the index takes and how much it adds to
//! the file; then the time of a search of every group and of one group, by the index and by a
//! plain `LIKE` scan, for the same queries in the same run (p50 and p99). Prints figures;
//! asserts nothing about speed.
//!
//! `cargo bench -p udprelay-gui --bench search` (a release build; a few minutes on 2 cores).
//! `KEEP=FILE` also leaves a copy of the indexed store there (for `window_cpu.py`'s `STORE=`).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use udprelay_client::GroupId;
use udprelay_gui::search::RESULTS;
use udprelay_gui::store::{HISTORY_LIMIT, Store};
use udprelay_testkit::ScratchDir;

const GROUPS: i64 = 20;
const MESSAGES: i64 = 1_000_000;
const VOCABULARY: usize = 5_000;
const QUERIES: usize = 60;

/// A small deterministic generator (xorshift64*): the same store every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Made-up words of 2 to 9 letters, the letters drawn by their frequency in English text
/// (so that words share trigrams as real ones do: `the`, `ing` in many, most in few); drawn
/// with a skew, so some words are common and most rare, as in chat.
fn vocabulary(rng: &mut Rng) -> Vec<String> {
    // Per mille, a to z.
    const FREQUENCY: [u32; 26] = [
        82, 15, 28, 43, 127, 22, 20, 61, 70, 2, 8, 40, 24, 67, 75, 19, 1, 60, 63, 91, 28, 10, 24,
        2, 20, 1,
    ];
    let total: u32 = FREQUENCY.iter().sum();
    let letter = |rng: &mut Rng| {
        let mut pick = rng.below(total as usize) as u32;
        for (n, weight) in FREQUENCY.iter().enumerate() {
            if pick < *weight {
                return char::from(b'a' + n as u8);
            }
            pick -= weight;
        }
        'e'
    };
    (0..VOCABULARY).map(|_| (0..2 + rng.below(8)).map(|_| letter(rng)).collect()).collect()
}

fn skewed(rng: &mut Rng, words: &[String]) -> usize {
    // The square of a uniform draw: low indices far more often.
    let u = rng.below(1 << 16) as f64 / f64::from(1 << 16);
    ((u * u) * words.len() as f64) as usize
}

fn message(rng: &mut Rng, words: &[String]) -> String {
    let count = 3 + rng.below(13);
    let picked: Vec<&str> = (0..count).map(|_| words[skewed(rng, words)].as_str()).collect();
    picked.join(" ")
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// p50 and p99 of `times`, in milliseconds.
fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    (at(0.50), at(0.99))
}

fn main() {
    let dir = ScratchDir::new("search-bench");
    let path = dir.join("history.sqlite3");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let words = vocabulary(&mut rng);

    // The groups, through the store; the messages written in one go, without the index (as a
    // store of schema 3 holds them).
    let keys: Vec<i64> = {
        let store = Store::open(&path, HISTORY_LIMIT).unwrap();
        (0..GROUPS)
            .map(|n| {
                let id = format!("BENCH{:03}", n + 100).replace('0', "A");
                store.join("127.0.0.1:5000", GroupId::parse_lenient(&id).unwrap(), None).unwrap()
            })
            .collect()
    };
    let started = Instant::now();
    {
        let mut db = Connection::open(&path).unwrap();
        db.execute_batch(
            "DROP TRIGGER message_indexed; DROP TRIGGER message_unindexed;
             DROP TABLE message_search; DROP TABLE search_pending; PRAGMA user_version = 3;",
        )
        .unwrap();
        let tx = db.transaction().unwrap();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO messages (group_key, seq, at, kind, text, sender)
                     VALUES (?1, ?2, ?3, 1, ?4, 'ben')",
                )
                .unwrap();
            let per_group = MESSAGES / GROUPS;
            for (g, key) in keys.iter().enumerate() {
                for seq in 1..=per_group {
                    let at = 1_700_000_000_000 + seq * GROUPS + g as i64;
                    insert
                        .execute(rusqlite::params![key, seq, at, message(&mut rng, &words)])
                        .unwrap();
                }
                tx.execute("UPDATE groups SET last_seq = ?2 WHERE key = ?1", [*key, per_group])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
        db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    }
    let without = file_size(&path);
    println!(
        "store: {MESSAGES} messages in {GROUPS} groups, {:.0} MiB without the index (written in {:.1} s)",
        mib(without),
        started.elapsed().as_secs_f64()
    );

    // Opening it makes the index; the window then indexes a batch a frame.
    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    let started = Instant::now();
    let mut batches = 0u64;
    let mut slowest = Duration::ZERO;
    loop {
        let batch = Instant::now();
        let left = store.index_some(udprelay_gui::search::INDEX_BATCH).unwrap();
        slowest = slowest.max(batch.elapsed());
        batches += 1;
        if left == 0 {
            break;
        }
    }
    let built = started.elapsed();
    drop(store);
    Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let with = file_size(&path);
    println!(
        "index built in {:.1} s ({batches} batches of {}; the slowest {:.1} ms); the file grew from {:.0} to {:.0} MiB (+{:.0} %)",
        built.as_secs_f64(),
        udprelay_gui::search::INDEX_BATCH,
        slowest.as_secs_f64() * 1e3,
        mib(without),
        mib(with),
        100.0 * (with as f64 / without as f64 - 1.0)
    );

    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    // Then the window merges the segments that left, a step a frame.
    let merging = Instant::now();
    let (mut steps, mut slowest_step) = (0u64, Duration::ZERO);
    if std::env::var_os("NO_MERGE").is_none() {
        loop {
            let step = Instant::now();
            let more = store.tidy_index(udprelay_gui::search::MERGE_PAGES).unwrap();
            slowest_step = slowest_step.max(step.elapsed());
            steps += 1;
            if !more {
                break;
            }
        }
    }
    println!(
        "merged in {:.1} s ({steps} steps of {} pages; the slowest {:.1} ms)",
        merging.elapsed().as_secs_f64(),
        udprelay_gui::search::MERGE_PAGES,
        slowest_step.as_secs_f64() * 1e3
    );
    drop(store);
    Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    println!("after merging: {:.0} MiB", mib(file_size(&path)));
    if let Some(keep) = std::env::var_os("KEEP") {
        // For the window's memory with this store (window_cpu.py's STORE=).
        std::fs::copy(&path, &keep).unwrap();
        println!("kept a copy at {}", Path::new(&keep).display());
    }
    let store = Store::open(&path, HISTORY_LIMIT).unwrap();
    // Queries: whole words, common and rare; parts of words; two words.
    let queries: Vec<String> = (0..QUERIES)
        .map(|n| {
            let word = &words[skewed(&mut rng, &words)];
            match n % 3 {
                0 => word.clone(),
                1 => word.chars().skip(1).take(4).collect(),
                _ => format!("{word} {}", words[skewed(&mut rng, &words)]),
            }
        })
        .collect();
    println!("{QUERIES} queries, the newest {} results each:", RESULTS + 1);
    println!("{:<28} {:>10} {:>10} {:>14}", "", "p50 ms", "p99 ms", "found (mean)");
    for (scope, scoped) in [("every group", &keys[..]), ("one group", &keys[..1])] {
        for (how, indexed) in [("index", true), ("LIKE scan", false)] {
            let mut times = Vec::new();
            let mut slowest = (Duration::ZERO, "");
            let mut found = 0;
            for query in &queries {
                let started = Instant::now();
                let hits = if indexed {
                    store.search(scoped, query, RESULTS + 1)
                } else {
                    store.scan(scoped, query, RESULTS + 1)
                };
                let took = started.elapsed();
                times.push(took);
                if took > slowest.0 {
                    slowest = (took, query.as_str());
                }
                found += hits.unwrap().len();
            }
            let (p50, p99) = percentiles(times);
            let label = format!("{scope}, {how}");
            println!(
                "{label:<28} {p50:>10.1} {p99:>10.1} {:>14.1}   slowest: {:?}",
                found as f64 / QUERIES as f64,
                slowest.1
            );
        }
    }
    // Writing with the index: what each message the window keeps costs now.
    let started = Instant::now();
    let writes = 2_000;
    for n in 0..writes {
        let entry = udprelay_gui::app::Entry::at(
            0,
            udprelay_gui::app::EntryKind::Theirs,
            message(&mut rng, &words),
        );
        store.append(keys[n % keys.len()], &entry).unwrap();
    }
    println!(
        "a message kept, with the index: {:.0} µs each ({writes} written)",
        started.elapsed().as_secs_f64() * 1e6 / writes as f64
    );
}
