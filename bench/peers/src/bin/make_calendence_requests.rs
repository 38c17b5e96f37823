//! Writes the inbox load harness's requests (`bench/inbox.sh`): N unique
//! Calendence `booking.created` deliveries, each a complete raw HTTP/1.1
//! request to `/webhook/calendence` followed by a NUL byte (the format of
//! `bench/requests.lua`).
//!
//! ```text
//! make_calendence_requests OUT_DIR COUNT SECRET [WARMUP_COUNT]
//! ```
//!
//! Each delivery has its own booking id, so its own idempotency key, and is
//! signed by bookhook's Calendence preset (`X-Calendence-Signature:
//! sha256=<hex>`). With WARMUP_COUNT, also writes `warmup.bin` with as many
//! more deliveries, none of which `requests.bin` repeats.
//!
//! Also writes probes for a check before each run (for `curl -H @file
//! --data-binary @file`): `probe.json` with `probe.headers` (valid) and
//! `probe-bad.headers` (signed with another secret).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bookhook::testing::signed_request_with;
use bookhook::{Endpoint, Provider, SignRequest};

const PATH: &str = "/webhook/calendence";

fn body(i: usize) -> String {
    format!(
        r#"{{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{{"id":"b-{i:08}","status":"confirmed","service":{{"id":"s-12","name":"Express Wash"}},"client":{{"first_name":"Jane","last_name":"Doe","email":"jane@example.com","phone":"+15555550100"}},"starts_at":"2026-03-25T14:00:00+00:00","ends_at":"2026-03-25T14:30:00+00:00","location":{{"id":"l-3","name":"Main Street"}}}}}}"#
    )
}

fn headers(endpoint: &Endpoint, body: &str) -> Vec<(String, String)> {
    let at = SignRequest::at(SystemTime::now());
    signed_request_with(endpoint, body.as_bytes(), at).0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (out, count, secret, warmup) = match args.as_slice() {
        [_, out, count, secret] => (out, count, secret, "0"),
        [_, out, count, secret, warmup] => (out, count, secret, warmup.as_str()),
        _ => {
            return Err(
                "usage: make_calendence_requests OUT_DIR COUNT SECRET [WARMUP_COUNT]".into(),
            );
        }
    };
    let out = PathBuf::from(out);
    let count: usize = count.parse()?;
    let warmup: usize = warmup.parse()?;
    let signer = Endpoint::builder(Provider::Calendence)
        .secret(secret.as_str())
        .build()?;
    let forger = Endpoint::builder(Provider::Calendence)
        .secret("not-the-secret")
        .build()?;

    std::fs::create_dir_all(&out)?;
    write_requests(&out.join("requests.bin"), 0..count, &signer)?;
    // Index `count` is the probe's; the warm-up's ids come after it.
    if warmup > 0 {
        write_requests(
            &out.join("warmup.bin"),
            count + 1..count + 1 + warmup,
            &signer,
        )?;
    }
    let probe = body(count);
    std::fs::write(out.join("probe.json"), &probe)?;
    for (name, endpoint) in [("probe.headers", &signer), ("probe-bad.headers", &forger)] {
        let lines: String = headers(endpoint, &probe)
            .iter()
            .map(|(name, value)| format!("{name}: {value}\n"))
            .collect();
        std::fs::write(out.join(name), lines)?;
    }
    eprintln!(
        "wrote {count} unique Calendence requests of {} bytes of body to {} ({warmup} more to warmup.bin)",
        probe.len(),
        out.join("requests.bin").display()
    );
    Ok(())
}

/// Writes the deliveries of `indices`, each a raw request and a NUL byte.
fn write_requests(
    path: &Path,
    indices: std::ops::Range<usize>,
    signer: &Endpoint,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut file = BufWriter::new(File::create(path)?);
    let mut request = String::with_capacity(1024);
    for i in indices {
        let body = body(i);
        request.clear();
        write!(request, "POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n")?;
        for (name, value) in headers(signer, &body) {
            write!(request, "{name}: {value}\r\n")?;
        }
        write!(
            request,
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        file.write_all(request.as_bytes())?;
        file.write_all(b"\0")?;
    }
    file.flush()?;
    Ok(())
}
