//! `providers`, `sign` and `verify`, run as real processes.

mod support;

use std::path::PathBuf;

use support::{TempDir, bookhook, run, stderr, stdout};

const NOW: &str = "1767225600";

fn fixture(path: &str) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bookhook/fixtures/payloads");
    std::fs::read(root.join(path)).expect("a payload fixture")
}

/// One provider's configuration and a body it sends.
struct Case {
    name: &'static str,
    args: Vec<&'static str>,
    body: Vec<u8>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "eagenda",
            args: vec!["--provider", "eagenda", "--secret", "eagenda-token"],
            body: fixture("eagenda/appointment.created.json"),
        },
        Case {
            name: "moncreneau",
            args: vec!["--provider", "moncreneau", "--secret", "whsec_abc123"],
            body: fixture("moncreneau/appointment.updated.json"),
        },
        Case {
            name: "orufy",
            args: vec!["--provider", "orufy", "--secret", "orufy-secret-token"],
            body: fixture("orufy/CANCEL.json"),
        },
        Case {
            name: "calendence",
            args: vec!["--provider", "calendence", "--secret", "cal_test_secret"],
            body: fixture("calendence/booking.created.json"),
        },
        Case {
            name: "decoda",
            args: vec!["--provider", "decoda", "--secret", "decoda-secret"],
            body: fixture("decoda/PAYMENT_CREATED.json"),
        },
        Case {
            name: "standard",
            args: vec![
                "--provider",
                "standard",
                "--secret",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ],
            body: br#"{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{"id":"inv_1"}}"#
                .to_vec(),
        },
        Case {
            name: "hmac hex",
            args: vec!["--provider", "hmac", "--secret", "k1", "--header", "X-Signature"],
            body: br#"{"type":"visit.booked","id":"ev_1","data":{}}"#.to_vec(),
        },
        Case {
            name: "hmac base64 with prefix",
            args: vec![
                "--provider",
                "hmac",
                "--secret",
                "k2",
                "--header",
                "X-Hub-Signature-256",
                "--prefix",
                "sha256=",
                "--encoding",
                "base64",
            ],
            body: br#"{"event":"visit.cancelled","id":42}"#.to_vec(),
        },
    ]
}

/// Signs `body` and returns the `Name: value` lines.
fn sign(args: &[&str], body: &[u8]) -> Vec<String> {
    let mut command = bookhook();
    command
        .arg("sign")
        .args(args)
        .args(["--timestamp", NOW, "--id", "msg_cli_1", "-"]);
    let output = run(command, body);
    assert!(output.status.success(), "sign failed: {}", stderr(&output));
    let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    assert!(!lines.is_empty(), "sign printed no header");
    for line in &lines {
        let (name, value) = line.split_once(": ").expect("`Name: value` lines");
        assert!(!name.is_empty() && !value.is_empty(), "{line}");
    }
    lines
}

fn verify(args: &[&str], headers: &[String], body_file: &std::path::Path) -> std::process::Output {
    let mut command = bookhook();
    command.arg("verify").args(args).args(["--now", NOW]);
    for header in headers {
        command.args(["-H", header]);
    }
    command.arg(body_file);
    run(command, b"")
}

#[test]
fn sign_then_verify_round_trips_for_every_provider() {
    let dir = TempDir::new("round-trip");
    for case in cases() {
        let headers = sign(&case.args, &case.body);
        let body_file = dir.file("body.json", &case.body);
        let output = verify(&case.args, &headers, &body_file);
        assert_eq!(
            (output.status.code(), stdout(&output).as_str()),
            (Some(0), "valid\n"),
            "{}: {}",
            case.name,
            stderr(&output)
        );

        // Without the signature headers the same request is refused.
        let output = verify(&case.args, &[], &body_file);
        assert_eq!(output.status.code(), Some(1), "{}", case.name);
        assert!(stdout(&output).starts_with("invalid: "), "{}", case.name);
    }
}

#[test]
fn any_configured_secret_verifies_and_the_first_signs() {
    let body = fixture("calendence/booking.created.json");
    let headers = sign(
        &[
            "--provider",
            "calendence",
            "--secret",
            "new",
            "--secret",
            "old",
        ],
        &body,
    );
    let dir = TempDir::new("rotation");
    let body_file = dir.file("body.json", &body);
    let both = [
        "--provider",
        "calendence",
        "--secret",
        "old",
        "--secret",
        "new",
    ];
    assert_eq!(stdout(&verify(&both, &headers, &body_file)), "valid\n");
    let old_only = ["--provider", "calendence", "--secret", "old"];
    let output = verify(&old_only, &headers, &body_file);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn the_secret_can_come_from_the_environment() {
    let body = fixture("decoda/APPOINTMENT_SCHEDULED.json");
    let mut command = bookhook();
    command
        .env("BOOKHOOK_SECRET", "from-env")
        .args(["sign", "--provider", "decoda"]);
    let output = run(command, &body);
    assert!(output.status.success(), "{}", stderr(&output));
    let header = stdout(&output).trim().to_owned();

    let dir = TempDir::new("env-secret");
    let body_file = dir.file("body.json", &body);
    let mut command = bookhook();
    command
        .env("BOOKHOOK_SECRET", "from-env")
        .args(["verify", "--provider", "decoda", "-H", &header])
        .arg(&body_file);
    assert_eq!(stdout(&run(command, b"")), "valid\n");

    let output = verify(
        &["--provider", "decoda", "--secret", "other"],
        &[header],
        &body_file,
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn verify_rejects_tampered_body() {
    let args = ["--provider", "calendence", "--secret", "cal_test_secret"];
    let body = fixture("calendence/booking.created.json");
    let headers = sign(&args, &body);
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("booking.created", "booking.cancelled");
    let dir = TempDir::new("tampered");
    let body_file = dir.file("body.json", tampered.as_bytes());
    let output = verify(&args, &headers, &body_file);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "invalid: signature does not match any configured secret\n"
    );
}

#[test]
fn verify_reads_a_token_from_the_query_string() {
    let args = ["--provider", "orufy", "--secret", "orufy-secret-token"];
    let dir = TempDir::new("query");
    let body_file = dir.file("body.json", &fixture("orufy/CANCEL.json"));
    let with_query = |query: &str| {
        let mut command = bookhook();
        command
            .arg("verify")
            .args(args)
            .args(["--now", NOW, "--query", query])
            .arg(&body_file);
        run(command, b"")
    };
    for query in [
        "token=orufy-secret-token",
        "?token=orufy-secret-token",
        "a=1&token=orufy%2Dsecret%2Dtoken",
    ] {
        let output = with_query(query);
        assert_eq!(
            (output.status.code(), stdout(&output).as_str()),
            (Some(0), "valid\n"),
            "{query}: {}",
            stderr(&output)
        );
    }
    let output = with_query("token=someone-else");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("invalid: "),
        "{}",
        stdout(&output)
    );
}

#[test]
fn verify_reports_stale_timestamps_and_bad_bodies() {
    let args = [
        "--provider",
        "standard",
        "--secret",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ];
    let body = br#"{"type":"invoice.paid","data":{}}"#;
    let headers = sign(&args, body);
    let dir = TempDir::new("stale");
    let body_file = dir.file("body.json", body);
    let mut command = bookhook();
    command
        .arg("verify")
        .args(args)
        .args(["--now", "1767229200"]);
    for header in &headers {
        command.args(["-H", header]);
    }
    command.arg(&body_file);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("invalid: "),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("timestamp"), "{}", stdout(&output));

    // Authentic but not an event: the parse error names the field.
    let args = ["--provider", "calendence", "--secret", "s"];
    let body = br#"{"data":{"id":"b-1"}}"#;
    let headers = sign(&args, body);
    let body_file = dir.file("no-event.json", body);
    let output = verify(&args, &headers, &body_file);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "invalid: missing field `event`\n");
}

#[test]
fn verify_usage_error_exits_2() {
    let dir = TempDir::new("usage");
    let body_file = dir.file("body.json", b"{}");
    let file = body_file.to_str().expect("a utf-8 temporary path");
    let cases: Vec<Vec<&str>> = vec![
        vec!["verify", "--secret", "s", file],
        vec!["verify", "--provider", "stripe", "--secret", "s", file],
        vec!["verify", "--provider", "calendence", file],
        vec![
            "verify",
            "--provider",
            "calendence",
            "--secret",
            "s",
            "-H",
            "no colon",
            file,
        ],
        vec!["verify", "--provider", "hmac", "--secret", "s", file],
        vec![
            "verify",
            "--provider",
            "calendence",
            "--secret",
            "s",
            "--prefix",
            "v1=",
            file,
        ],
        vec!["verify", "--provider", "calendence", "--secret", "", file],
        vec![
            "verify",
            "--provider",
            "calendence",
            "--secret",
            "s",
            "--now",
            "soon",
            file,
        ],
        vec![
            "verify",
            "--provider",
            "calendence",
            "--secret",
            "s",
            "--bogus",
            file,
        ],
    ];
    for args in cases {
        let mut command = bookhook();
        command.args(&args);
        let output = run(command, b"");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty(), "{args:?}");
        assert!(stderr(&output).contains("error"), "{args:?}");
    }
}

#[test]
fn unreadable_input_is_a_failure_not_a_panic() {
    let mut command = bookhook();
    command.args([
        "sign",
        "--provider",
        "calendence",
        "--secret",
        "s",
        "/nonexistent/bookhook/body.json",
    ]);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot read"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("panicked"));

    let mut command = bookhook();
    command.args([
        "verify",
        "--provider",
        "decoda",
        "--secret",
        "s",
        "-H",
        "Decoda-Signature: zz",
        "-",
    ]);
    let output = run(command, &[0xff, 0xfe, 0x00]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).starts_with("invalid: "));
}

#[test]
fn providers_json_lists_every_provider() {
    let mut command = bookhook();
    command.args(["providers", "--json"]);
    let output = run(command, b"");
    assert!(output.status.success());
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json output");
    let rows = list.as_array().expect("a json array");
    let names: Vec<&str> = rows.iter().filter_map(|row| row["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "eagenda",
            "moncreneau",
            "orufy",
            "calendence",
            "decoda",
            "standard",
            "hmac"
        ]
    );
    for row in rows {
        assert!(row["scheme"].is_string(), "{row}");
        assert!(row["dedup_key"].is_string(), "{row}");
        assert!(
            row["headers"].as_array().is_some_and(|h| !h.is_empty()),
            "{row}"
        );
        assert!(row["event_types"].is_array(), "{row}");
    }
    let calendence = &rows[3];
    assert_eq!(calendence["scheme"], "hmac-sha256");
    assert_eq!(calendence["headers"][0], "X-Calendence-Signature");
    assert!(
        calendence["event_types"]
            .as_array()
            .unwrap()
            .contains(&"booking.created".into())
    );
    assert_eq!(rows[5]["scheme"], "standard-webhooks");
    for name in [
        "webhook-signature",
        "svix-id",
        "svix-timestamp",
        "svix-signature",
    ] {
        assert!(
            rows[5]["headers"]
                .as_array()
                .unwrap()
                .contains(&name.into()),
            "{name}"
        );
    }
    let orufy = &rows[2];
    assert_eq!(orufy["headers"], serde_json::json!(["Authorization"]));
    assert_eq!(orufy["query"], serde_json::json!(["token"]));
    assert!(rows.iter().all(|row| row["query"].is_array()), "{list}");

    let mut command = bookhook();
    command.arg("providers");
    let table = stdout(&run(command, b""));
    assert_eq!(table.lines().count(), 8, "{table}");
}

#[test]
fn help_documents_the_interface() {
    let mut command = bookhook();
    command.arg("--help");
    let help = stdout(&run(command, b""));
    for word in [
        "providers",
        "sign",
        "verify",
        "send",
        "listen",
        "BOOKHOOK_SECRET",
    ] {
        assert!(help.contains(word), "{word} missing from --help");
    }
    let mut command = bookhook();
    command.args(["listen", "--help"]);
    let help = stdout(&run(command, b""));
    for word in ["--exec", "--redis", "--max-body", "in_flight", "SIGTERM"] {
        assert!(help.contains(word), "{word} missing from listen --help");
    }
}

/// The project's known-answer vectors (computed outside the project) that the
/// command line can express: `sign` must print exactly their headers.
#[test]
fn sign_matches_the_known_answer_vectors() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bookhook/fixtures/signatures.json");
    let text = std::fs::read_to_string(path).expect("the signature vectors");
    let vectors: serde_json::Value = serde_json::from_str(&text).expect("json vectors");
    let mut checked = Vec::new();
    for vector in vectors["vectors"].as_array().expect("a list of vectors") {
        let Some(sign) = vector.get("sign") else {
            continue;
        };
        let scheme = &vector["scheme"];
        let text_of = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
        let mut configs: Vec<Vec<String>> = Vec::new();
        match scheme["type"].as_str() {
            Some("hmac")
                if scheme.get("signed_timestamp").is_none()
                    && scheme["headers"].as_array().is_some_and(|h| h.len() == 1) =>
            {
                let mut args = vec![
                    "--provider".to_owned(),
                    "hmac".to_owned(),
                    "--header".to_owned(),
                    text_of(&scheme["headers"][0]),
                    "--encoding".to_owned(),
                    text_of(&scheme["encoding"]),
                ];
                if let Some(prefix) = scheme.get("prefix") {
                    args.extend(["--prefix".to_owned(), text_of(prefix)]);
                }
                configs.push(args);
                if text_of(&scheme["headers"][0]) == "X-Calendence-Signature" {
                    configs.push(vec!["--provider".into(), "calendence".into()]);
                }
                if text_of(&scheme["headers"][0]) == "Decoda-Signature" {
                    configs.push(vec!["--provider".into(), "decoda".into()]);
                }
            }
            Some("standard") => configs.push(vec!["--provider".into(), "standard".into()]),
            Some("token")
                if scheme["sources"][0]["header"] == "Authorization"
                    && scheme["sources"][0]["prefix"] == "Bearer " =>
            {
                configs.push(vec!["--provider".into(), "eagenda".into()]);
                configs.push(vec!["--provider".into(), "orufy".into()]);
            }
            _ => continue,
        }
        let body = match vector.get("body_hex") {
            Some(hex) => decode_hex(hex.as_str().expect("hex text")),
            None => text_of(&vector["body"]).into_bytes(),
        };
        let expected: Vec<String> = vector["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .map(|pair| format!("{}: {}", text_of(&pair[0]), text_of(&pair[1])))
            .collect();
        for config in configs {
            let mut command = bookhook();
            command.arg("sign").args(&config);
            command.args(["--secret", &text_of(&vector["secrets"][0])]);
            command.args(["--timestamp", &sign["timestamp"].to_string()]);
            if let Some(id) = sign.get("id") {
                command.args(["--id", &text_of(id)]);
            }
            let output = run(command, &body);
            assert!(
                output.status.success(),
                "{}: {}",
                vector["name"],
                stderr(&output)
            );
            let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
            assert_eq!(lines, expected, "{} with {config:?}", vector["name"]);
            checked.push(format!("{} {config:?}", vector["name"]));
        }
    }
    assert!(checked.len() >= 6, "too few vectors checked: {checked:?}");
}

fn decode_hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits"))
        .collect()
}
