//! Envelope + typed parse per provider, for every seed payload under
//! `crates/bookhook/fixtures/payloads`, each next to a reference in the same group
//! (`ref_serde_json_value`): a plain `serde_json::Value` parse of the same
//! bytes, untyped and with no envelope checks.
//!
//! ```text
//! cargo bench -p bookhook --bench parse
//! ```

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use bookhook::{Delivery, Provider, endpoint::NoHeaders};
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const PROVIDERS: [Provider; 5] = [
    Provider::Eagenda,
    Provider::Moncreneau,
    Provider::Orufy,
    Provider::Calendence,
    Provider::Decoda,
];

/// The seed payloads of `provider`, by file name.
fn payloads(provider: Provider) -> Vec<(String, Bytes)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/payloads")
        .join(provider.as_str());
    let mut files: Vec<(String, Bytes)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a readable directory entry").path();
            let name = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .expect("a UTF-8 file name")
                .to_owned();
            let body = std::fs::read(&path).unwrap_or_else(|err| panic!("{name}: {err}"));
            (name, Bytes::from(body))
        })
        .collect();
    files.sort();
    files
}

fn parse(c: &mut Criterion) {
    for provider in PROVIDERS {
        let mut group = c.benchmark_group(format!("parse_{provider}"));
        for (name, body) in payloads(provider) {
            Delivery::parse(provider, &NoHeaders, body.clone())
                .unwrap_or_else(|err| panic!("{provider} {name}: {err}"));
            group.throughput(Throughput::Bytes(body.len() as u64));
            group.bench_with_input(BenchmarkId::new("bookhook", &name), &body, |b, body| {
                b.iter(|| Delivery::parse(provider, &NoHeaders, black_box(body.clone())))
            });
            group.bench_with_input(
                BenchmarkId::new("ref_serde_json_value", &name),
                &body,
                |b, body| b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(body))),
            );
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200));
    targets = parse
}
criterion_main!(benches);
