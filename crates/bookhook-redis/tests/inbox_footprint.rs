//! What one event costs Redis: round trips on the request path (from
//! `INFO commandstats`) and bytes of memory (from `INFO memory` and
//! `MEMORY USAGE`). Each test has a private server, so that no other test's
//! commands or keys are counted.

mod inbox_support;
mod support;

use std::time::Duration;

use bookhook::inbox::{Filter, Inbox, State};
use inbox_support::{event, volatile_inbox};
use redis::aio::MultiplexedConnection;

const T0: i64 = 1_774_362_600_000;

async fn raw(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Calls per command since the last `CONFIG RESETSTAT`.
async fn command_calls(raw: &mut MultiplexedConnection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(raw)
        .await
        .unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
        .unwrap_or(0)
}

async fn used_memory(raw: &mut MultiplexedConnection) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(raw)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn ingest_is_one_round_trip_per_event() {
    let Some(server) = support::private_server("this test counts its server's commands") else {
        return;
    };
    let inbox = volatile_inbox(&server.url(), "rt:").await;
    let mut raw = raw(&server.url()).await;
    let () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut raw)
        .await
        .unwrap();
    for n in 0..100 {
        let ordering = (n % 2 == 0).then_some("appt-1");
        inbox
            .enqueue(event("ns", &format!("evt-{n}"), ordering, T0, 1024))
            .await
            .unwrap();
    }
    // Duplicates are answered by the same script.
    inbox
        .enqueue(event("ns", "evt-0", None, T0, 1024))
        .await
        .unwrap();
    let calls = [
        command_calls(&mut raw, "evalsha").await,
        command_calls(&mut raw, "eval").await,
        command_calls(&mut raw, "script|load").await,
    ];
    assert_eq!(calls, [101, 0, 0], "evalsha, eval, script load");
    eprintln!(
        "101 enqueues: {} EVALSHA round trips (inside the scripts: {} HSET, {} XADD)",
        calls[0],
        command_calls(&mut raw, "hset").await,
        command_calls(&mut raw, "xadd").await
    );
}

#[tokio::test]
async fn memory_per_stored_1kib_event_is_bounded_and_returned_by_expire() {
    let Some(server) = support::private_server("this test measures its server's memory") else {
        return;
    };
    const EVENTS: i64 = 2_000;
    let inbox = volatile_inbox(&server.url(), "mem:").await;
    let mut raw = raw(&server.url()).await;
    // One event first, so that the fixed costs (stream, group, indexes)
    // are paid before the baseline.
    inbox
        .enqueue(event("ns", "warm-up", Some("appt-0"), T0, 1024))
        .await
        .unwrap();
    let baseline = used_memory(&mut raw).await;
    for n in 0..EVENTS {
        let appt = format!("appt-{}", n % 200);
        inbox
            .enqueue(event("ns", &format!("evt-{n}"), Some(&appt), T0, 1024))
            .await
            .unwrap();
    }
    let pending = used_memory(&mut raw).await;
    let per_pending = (pending - baseline) / EVENTS;
    let record: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("mem:e:2")
        .arg("SAMPLES")
        .arg(0)
        .query_async(&mut raw)
        .await
        .unwrap();

    // Handle them all, then measure the done rows.
    loop {
        let claimed = inbox
            .claim("ns", T0 + 1, Duration::from_secs(30), 256)
            .await
            .unwrap();
        if claimed.is_empty() {
            break;
        }
        for row in claimed {
            inbox.complete(&row.lease, T0 + 2).await.unwrap();
        }
    }
    assert_eq!(
        inbox
            .count(&Filter::default().state(State::Done))
            .await
            .unwrap(),
        EVENTS as u64 + 1
    );
    let done = used_memory(&mut raw).await;
    let per_done = (done - baseline) / EVENTS;
    assert_eq!(
        inbox
            .expire(T0 + 10_000, Duration::from_secs(1))
            .await
            .unwrap(),
        EVENTS as u64 + 1
    );
    // Redis shrinks its emptied hash tables in its periodic task (10 times
    // a second by default): give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let expired = used_memory(&mut raw).await;
    let per_expired = (expired - baseline) / EVENTS;
    eprintln!(
        "1 KiB body, 2 headers, ordering key: {per_pending} B per pending event, \
         {per_done} B per done event, {per_expired} B left per event after expire; \
         MEMORY USAGE of one event hash: {record} B"
    );
    assert!(per_pending < 3 * 1024, "{per_pending} B per pending event");
    assert!(per_done < 3 * 1024, "{per_done} B per done event");
    // Nothing of any event is left: the fixed keys only, an empty stream
    // and an empty pending entries list.
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw)
        .await
        .unwrap();
    keys.sort();
    assert_eq!(keys, ["mem:nss", "mem:s:ns", "mem:seq"]);
    let length: u64 = redis::cmd("XLEN")
        .arg("mem:s:ns")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(length, 0, "stream entries left");
    let pel: Vec<redis::Value> = redis::cmd("XPENDING")
        .arg("mem:s:ns")
        .arg("bookhook")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        pel.first(),
        Some(&redis::Value::Int(0)),
        "unacknowledged entries left"
    );
}
