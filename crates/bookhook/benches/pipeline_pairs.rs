//! The pipeline's ratios to its references, measured so that the machine's
//! drift cancels: the contenders of the `pipeline` benchmark run one after
//! the other in chunks of new deliveries, round after round, their order
//! rotating each round, and each round gives one ratio per pair. A drift of
//! the machine's speed (this benchmark's reason to exist: on a shared
//! machine it moves criterion's separate estimates by a fifth between runs)
//! then moves both sides of a ratio alike. Prints each contender's median
//! time per delivery, and each ratio's median and quartiles over the rounds.
//!
//! Contenders, each with its store filled to capacity first (about 5 s):
//! the floor (raw HMAC verify + typed serde parse), `ref_lru_dedup` (the
//! floor plus a claim, the appointment's newest time and a completion in
//! `lru` maps, by hand), and `Dispatcher::dispatch` with the default
//! `MemoryStore`, with and without the appointment's freshness record, and
//! `Endpoint::verify_and_parse` alone (the pipeline's verify and typed parse,
//! whose difference to `dispatch` is what the pipeline adds, as the
//! reference's difference to the floor is what it adds).
//! Signing the deliveries is not timed.
//!
//! ```text
//! cargo bench -p bookhook --bench pipeline_pairs
//! BOOKHOOK_PAIRS_ROUNDS=61 BOOKHOOK_PAIRS_CHUNK=10000 cargo bench -p bookhook --bench pipeline_pairs
//! ```

#![allow(missing_docs, reason = "a benchmark binary")]

mod support;

use std::hint::black_box;
use std::time::Instant;

use bookhook::endpoint::Request;
use support::pipeline::{Contenders, Input, dispatch, floor, floor_with_dedup};

/// The contenders, in the order of the first round.
const NAMES: [&str; 5] = [
    "floor_hmac_serde",
    "ref_lru_dedup",
    "dispatch",
    "dispatch_without_freshness",
    "verify_and_parse",
];

/// The ratios printed: (numerator, denominator) as indexes into [`NAMES`].
const RATIOS: [(usize, usize); 6] = [(2, 1), (2, 0), (1, 0), (3, 0), (3, 1), (4, 0)];

/// The differences printed, as ratios of two differences:
/// ((a − b) ÷ (c − d)), indexes into [`NAMES`]. What the pipeline adds to
/// its own verify and parse, against what the reference adds to the floor:
/// the deduplication, freshness and handler call of each.
const ADDED: [(usize, usize, usize, usize); 1] = [(2, 4, 1, 0)];

fn run(contenders: &Contenders, which: usize, input: &Input) {
    match which {
        0 => {
            black_box(floor(&contenders.key, black_box(input)).is_some());
        }
        1 => {
            black_box(floor_with_dedup(
                &contenders.key,
                &contenders.floor_store,
                black_box(input),
            ));
        }
        2 => {
            black_box(dispatch(&contenders.dispatcher, input));
        }
        3 => {
            black_box(dispatch(&contenders.untracked_dispatcher, input));
        }
        _ => {
            let (headers, body) = input;
            black_box(
                contenders
                    .endpoint
                    .verify_and_parse(&Request::post(black_box(headers), black_box(body.clone())))
                    .is_ok(),
            );
        }
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|value| *value > 0)
        .unwrap_or(default)
}

/// The value at quantile `q` (0 to 1) of `values`, sorted here.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = (q * (values.len() - 1) as f64).round() as usize;
    values[at]
}

fn main() {
    let rounds = env("BOOKHOOK_PAIRS_ROUNDS", 31);
    let chunk = env("BOOKHOOK_PAIRS_CHUNK", 20_000);
    let contenders = Contenders::new();
    // Nanoseconds per delivery, per round and contender.
    let mut times = vec![[0.0_f64; NAMES.len()]; rounds];
    for (round, row) in times.iter_mut().enumerate() {
        for step in 0..NAMES.len() {
            let which = (round + step) % NAMES.len();
            let inputs: Vec<Input> = (0..chunk).map(|_| contenders.input()).collect();
            let started = Instant::now();
            for input in &inputs {
                run(&contenders, which, input);
            }
            let elapsed = started.elapsed();
            drop(inputs);
            row[which] = elapsed.as_nanos() as f64 / chunk as f64;
        }
    }
    println!("{rounds} rounds of {chunk} new 1 KiB deliveries per contender, order rotating");
    println!();
    println!("| contender | median per delivery | fastest round | slowest round |");
    println!("|---|---:|---:|---:|");
    for (which, name) in NAMES.iter().enumerate() {
        let mut column: Vec<f64> = times.iter().map(|row| row[which]).collect();
        let median = quantile(&mut column, 0.5);
        let (fastest, slowest) = (column[0], column[column.len() - 1]);
        println!(
            "| `{name}` | {:.2} µs | {:.2} µs | {:.2} µs |",
            median / 1e3,
            fastest / 1e3,
            slowest / 1e3
        );
    }
    println!();
    println!("| ratio, per round | median | quartiles |");
    println!("|---|---:|---|");
    for (top, bottom) in RATIOS {
        let mut ratios: Vec<f64> = times.iter().map(|row| row[top] / row[bottom]).collect();
        let median = quantile(&mut ratios, 0.5);
        let (low, high) = (quantile(&mut ratios, 0.25), quantile(&mut ratios, 0.75));
        println!(
            "| `{}` ÷ `{}` | {median:.2} | {low:.2}–{high:.2} |",
            NAMES[top], NAMES[bottom]
        );
    }
    for (a, b, c, d) in ADDED {
        let mut ratios: Vec<f64> = times
            .iter()
            .map(|row| (row[a] - row[b]) / (row[c] - row[d]))
            .collect();
        let median = quantile(&mut ratios, 0.5);
        let (low, high) = (quantile(&mut ratios, 0.25), quantile(&mut ratios, 0.75));
        println!(
            "| (`{}` − `{}`) ÷ (`{}` − `{}`) | {median:.2} | {low:.2}–{high:.2} |",
            NAMES[a], NAMES[b], NAMES[c], NAMES[d]
        );
    }
}
