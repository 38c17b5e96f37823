//! Writes the load harness's requests: N unique eAgenda `appointment.created`
//! deliveries, each a complete raw HTTP/1.1 request followed by a NUL byte.
//!
//! ```text
//! make_requests OUT_DIR COUNT TOKEN HUB_SECRET [WARMUP_COUNT]
//! ```
//!
//! With WARMUP_COUNT, also writes `warmup.bin`: as many more deliveries, whose
//! appointment keys are none of `requests.bin`'s, so that a server can be
//! brought to its steady state (its idempotency store full) before the
//! measured run, and still see every measured request for the first time.
//!
//! Every request carries eAgenda's `Authorization: Bearer <TOKEN>` (signed by
//! bookhook's eAgenda preset) and `X-Hub-Signature-256: sha256=<hex>` (HMAC of
//! the body with HUB_SECRET, for the `@octokit/webhooks` server). Each has its
//! own appointment key, so that each is a new delivery, never a duplicate.
//!
//! Also writes probes for a check before each run, as a body and a header file
//! each (for `curl -H @file --data-binary @file`): `probe.json` with
//! `probe.headers` (valid) and `probe-bad.headers` (wrong token and signature).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::time::SystemTime;

use bookhook::testing::signed_request_with;
use bookhook::{Endpoint, HmacScheme, Provider, SignRequest, Verifier};

const PATH: &str = "/webhook/eagenda";

fn body(i: usize) -> String {
    format!(
        r#"{{"event":"appointment.created","timestamp":"2026-06-04T14:30:00-03:00","data":{{"appointment_key":"apt{i:08}-1234-5678-9abc-def012345678","search_code":"AGD-2026-{i:08}","status":"CONFIRMED","start_date":"2026-06-10T09:00:00-03:00","calendar":{{"calendar_key":"abc12345","name":"Dr. Silva's Office"}},"person":{{"full_name":"John Smith","email":"john@example.com"}}}}}}"#
    )
}

struct Signers {
    eagenda: Endpoint,
    hub: Verifier,
}

impl Signers {
    fn headers(&self, body: &str) -> Vec<(String, String)> {
        let at = SignRequest::at(SystemTime::now());
        let (mut headers, _query) = signed_request_with(&self.eagenda, body.as_bytes(), at.clone());
        headers.extend(self.hub.sign(body.as_bytes(), &at).headers);
        headers
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (out, count, token, hub_secret, warmup) = match args.as_slice() {
        [_, out, count, token, hub_secret] => (out, count, token, hub_secret, "0"),
        [_, out, count, token, hub_secret, warmup] => {
            (out, count, token, hub_secret, warmup.as_str())
        }
        _ => {
            return Err(
                "usage: make_requests OUT_DIR COUNT TOKEN HUB_SECRET [WARMUP_COUNT]".into(),
            );
        }
    };
    let out = PathBuf::from(out);
    let count: usize = count.parse()?;
    let warmup: usize = warmup.parse()?;
    let signers = Signers {
        eagenda: Endpoint::builder(Provider::Eagenda)
            .secret(token.as_str())
            .build()?,
        hub: Verifier::new(
            HmacScheme::new("X-Hub-Signature-256").prefix("sha256="),
            [hub_secret.as_str()],
        )?,
    };
    let forged = Signers {
        eagenda: Endpoint::builder(Provider::Eagenda)
            .secret("not-the-token")
            .build()?,
        hub: Verifier::new(
            HmacScheme::new("X-Hub-Signature-256").prefix("sha256="),
            ["not-the-secret"],
        )?,
    };

    std::fs::create_dir_all(&out)?;
    write_requests(&out.join("requests.bin"), 0..count, &signers)?;
    // Index `count` is the probe's; the warm-up's keys come after it.
    if warmup > 0 {
        write_requests(
            &out.join("warmup.bin"),
            count + 1..count + 1 + warmup,
            &signers,
        )?;
    }

    // The probes use an index the load run never sends.
    let probe = body(count);
    std::fs::write(out.join("probe.json"), &probe)?;
    for (name, signers) in [("probe.headers", &signers), ("probe-bad.headers", &forged)] {
        let lines: String = signers
            .headers(&probe)
            .iter()
            .map(|(name, value)| format!("{name}: {value}\n"))
            .collect();
        std::fs::write(out.join(name), lines)?;
    }
    eprintln!(
        "wrote {count} unique requests to {} ({warmup} more to warmup.bin)",
        out.join("requests.bin").display()
    );
    Ok(())
}

/// Writes the deliveries of `indices`, each a raw request and a NUL byte.
fn write_requests(
    path: &std::path::Path,
    indices: std::ops::Range<usize>,
    signers: &Signers,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut file = BufWriter::new(File::create(path)?);
    let mut request = String::with_capacity(1024);
    for i in indices {
        let body = body(i);
        request.clear();
        write!(request, "POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n")?;
        for (name, value) in signers.headers(&body) {
            write!(request, "{name}: {value}\r\n")?;
        }
        write!(request, "Content-Length: {}\r\n\r\n{body}", body.len())?;
        file.write_all(request.as_bytes())?;
        file.write_all(b"\0")?;
    }
    file.flush()?;
    Ok(())
}
