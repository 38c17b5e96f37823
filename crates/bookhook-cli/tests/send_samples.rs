//! `send --event TYPE` for types without a published example: every type
//! that `providers` lists has a built-in sample, sent to a running `listen`.

mod support;

use support::{Listener, bookhook, run, stderr, stdout};

fn send_event(provider: &str, secret: &str, url: &str, event_type: &str) -> String {
    let mut command = bookhook();
    command.args([
        "send",
        "--provider",
        provider,
        "--secret",
        secret,
        "--url",
        url,
        "--event",
        event_type,
    ]);
    let output = run(command, b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output)
}

#[test]
fn send_event_works_for_types_without_a_published_example() {
    for (provider, secret, types) in [
        (
            "calendence",
            "cal_test_secret",
            &["booking.updated", "booking.cancelled", "booking.completed"][..],
        ),
        (
            "decoda",
            "decoda-secret",
            &[
                "CALL_RECEIVED",
                "REFUND_SUCCEEDED",
                "SELF_SCHEDULED_APPOINTMENT_CANCELLED",
            ][..],
        ),
        ("eagenda", "eagenda-token", &["appointment.canceled"][..]),
        ("moncreneau", "whsec_mc", &["appointment.confirmed"][..]),
    ] {
        let listener = Listener::start(&["--provider", provider, "--secret", secret]);
        for event_type in types {
            let line = send_event(provider, secret, &listener.url, event_type);
            assert!(
                line.starts_with(&format!("200 {event_type} ")),
                "{provider} {event_type}: {line}"
            );
            let delivered = listener.next_line();
            assert_eq!(delivered["outcome"], "handled", "{delivered}");
            assert_eq!(delivered["event"], *event_type, "{delivered}");
        }
        assert!(listener.terminate().success());
    }
}
