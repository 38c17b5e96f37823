//! The inbox-mode conformance table, answered by the core alone.
#![cfg(feature = "testing")]

use bookhook::testing::conformance::Stage;
use bookhook::testing::inbox::InboxConformance;

#[tokio::test]
async fn inbox_mode_answers_the_conformance_table() {
    let table = InboxConformance::new().await;
    let mut queued = 0;
    let mut duplicates = 0;
    let mut unavailable = 0;
    for case in &table.cases {
        let answer = table.receive(case).await;
        let response = answer.response();
        let retry_after = response.retry_after.map(|s| s.to_string());
        table.check(
            case,
            response.status,
            response.body.as_bytes(),
            retry_after.as_deref(),
        );
        match answer.outcome().as_str() {
            "queued" => queued += 1,
            "duplicate" => duplicates += 1,
            "unavailable" => unavailable += 1,
            _ => assert_eq!(case.stage(), Stage::Verify, "case `{}`", case.name),
        }
    }
    assert!(queued > 0 && duplicates > 0 && unavailable > 0);
    table.check_stored().await;
}
