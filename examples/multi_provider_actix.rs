//! One actix-web server receiving from five booking platforms, with one
//! cancellation handler for all of them and one shared idempotency store.
//!
//! Each platform gets its own endpoint (its own scheme, secret and key
//! namespace in the store) at `/webhook/<platform>`. The handler is
//! written once, against the normalized [`Appointment`] view, and
//! registered for [`Kind::Cancelled`] on every endpoint.
//!
//! Run it:
//!
//! ```sh
//! cargo run -p bookhook-examples --example multi_provider_actix
//! ```
//!
//! Secrets come from `EAGENDA_TOKEN`, `MONCRENEAU_SECRET`, `ORUFY_TOKEN`,
//! `CALENDENCE_SECRET` and `DECODA_SECRET`, with development fallbacks. It
//! listens on `127.0.0.1:5003` (set `BOOKHOOK_ADDR` to change it) and prints
//! a signed `curl` command per platform: paste any of them into another
//! terminal.

#[allow(dead_code, reason = "each example uses part of the shared helpers")]
mod actix_support;

use std::sync::Arc;

use actix_support::{Printed, curl_command, listen_addr, secret};
use actix_web::{App, HttpServer, web};
use bookhook_actix::bookhook::{
    Appointment,
    idempotency::{IdempotencyStore, MemoryStore},
};
use bookhook_actix::{
    ConfigError, Context, Dispatcher, DispatcherBuilder, Endpoint, HandlerError, Kind, Provider,
};

/// One platform this server receives from.
struct Platform {
    provider: Provider,
    /// The path segment and the store namespace.
    name: &'static str,
    secret_var: &'static str,
    dev_secret: &'static str,
    /// A cancellation as the platform sends it.
    sample: &'static str,
}

const PLATFORMS: [Platform; 5] = [
    Platform {
        provider: Provider::Eagenda,
        name: "eagenda",
        secret_var: "EAGENDA_TOKEN",
        dev_secret: "dev-eagenda-token",
        sample: r#"{"event":"appointment.canceled","timestamp":"2026-06-05T10:00:00-03:00","data":{"appointment_key":"apt12345","search_code":"AGD-2026-001234","status":"CANCELED","start_date":"2026-06-10T09:00:00-03:00","person":{"full_name":"John Smith","email":"john@example.com"}}}"#,
    },
    Platform {
        provider: Provider::Moncreneau,
        name: "moncreneau",
        secret_var: "MONCRENEAU_SECRET",
        dev_secret: "whsec_dev_moncreneau",
        sample: r#"{"id":"evt_ghi789","type":"appointment.cancelled","created":"2026-01-23T16:45:00Z","data":{"object":{"id":12345,"departmentId":5,"dateTime":"2026-01-25T14:30:00","status":"CANCELLED","name":"Jean Dupont","phone":"+224621234567","cancelledAt":"2026-01-23T16:45:00Z","cancelledBy":"user","cancelReason":"Last minute impediment","creditsRefunded":1}}}"#,
    },
    Platform {
        provider: Provider::Orufy,
        name: "orufy",
        secret_var: "ORUFY_TOKEN",
        dev_secret: "dev-orufy-token",
        sample: r#"{"eventType":"CANCEL","meetData":{"_id":"665f1c","time":"2026-07-01T10:00:00.000Z","duration":45,"status":"CANCELLED","cancellation":{"timestamp":"2026-06-30T08:00:00.000Z","reason":"ill"}}}"#,
    },
    Platform {
        provider: Provider::Calendence,
        name: "calendence",
        secret_var: "CALENDENCE_SECRET",
        dev_secret: "dev-calendence-secret",
        sample: r#"{"event":"booking.cancelled","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"bk_901","status":"cancelled","client":{"first_name":"Jane","last_name":"Doe","email":"jane@example.com"},"starts_at":"2026-03-25T14:00:00+00:00"}}"#,
    },
    Platform {
        provider: Provider::Decoda,
        name: "decoda",
        secret_var: "DECODA_SECRET",
        dev_secret: "dev-decoda-secret",
        sample: r#"{"id":"evt_77","alertId":"alert_77","type":"APPOINTMENT_CANCELLED","createdDate":"2024-05-01T12:00:00Z","data":{"id":"appt_42","status":"cancelled","start_time":"2024-05-02T09:00:00-04:00"}}"#,
    },
];

/// The one handler, for every platform's cancellations.
async fn on_cancelled(ctx: Context<Printed>) -> Result<(), HandlerError> {
    let Some(Appointment {
        provider,
        id,
        attendee,
        ..
    }) = ctx.appointment()
    else {
        return Ok(());
    };
    let who = attendee.name.as_deref().unwrap_or("unknown attendee");
    ctx.state()
        .say(format!("Cancelled on {provider}: appointment {id} ({who})"));
    Ok(())
}

/// One endpoint and dispatcher per platform, all on `store`.
fn dispatchers(
    secrets: impl Fn(&Platform) -> String,
    store: &Arc<dyn IdempotencyStore>,
    printed: &Printed,
) -> Result<Vec<(&'static Platform, Dispatcher<Printed>)>, ConfigError> {
    PLATFORMS
        .iter()
        .map(|platform| {
            let endpoint = Endpoint::builder(platform.provider)
                .secret(secrets(platform))
                .namespace(platform.name)
                .shared_store(Arc::clone(store))
                .build()?;
            let dispatcher = DispatcherBuilder::new(endpoint, printed.clone())
                .on_kind(Kind::Cancelled, on_cancelled)
                .build()?;
            Ok((platform, dispatcher))
        })
        .collect()
}

fn path(platform: &Platform) -> String {
    format!("/webhook/{}", platform.name)
}

/// Mounts every dispatcher at its platform's path.
fn mount(
    dispatchers: &[(&'static Platform, Dispatcher<Printed>)],
    config: &mut web::ServiceConfig,
) {
    for (platform, dispatcher) in dispatchers {
        config.service(bookhook_actix::resource(
            &path(platform),
            dispatcher.clone(),
        ));
    }
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = listen_addr("127.0.0.1:5003");
    let store: Arc<dyn IdempotencyStore> = Arc::new(MemoryStore::new());
    let dispatchers = dispatchers(
        |platform| secret(platform.secret_var, platform.dev_secret),
        &store,
        &Printed::default(),
    )?;

    println!("Webhook server on http://{addr}, one path per platform.");
    for (platform, dispatcher) in &dispatchers {
        println!("\n# {} cancellation:", platform.provider);
        println!(
            "{}",
            curl_command(
                &addr,
                &path(platform),
                dispatcher.endpoint(),
                platform.sample
            )
        );
    }
    println!();

    // Header, idle and shutdown timeouts, a connection cap, at most 256
    // deliveries in progress, and deliveries still running at the end of the
    // shutdown grace period cut off with their claims released; the body
    // timeout and the unverified budget are the endpoints'.
    let server = HttpServer::new(move || {
        let dispatchers = dispatchers.clone();
        App::new().configure(move |config| mount(&dispatchers, config))
    });
    bookhook_actix::harden(server).bind(&addr)?.run().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use actix_web::App;
    use actix_web::test::{call_service, init_service, read_body};

    use super::*;
    use crate::actix_support::test_support::signed_post;

    #[actix_web::test]
    async fn one_handler_sees_every_platforms_cancellation_once() {
        let store: Arc<dyn IdempotencyStore> = Arc::new(MemoryStore::new());
        let printed = Printed::default();
        let dispatchers = dispatchers(
            |platform| format!("test-{}", platform.name),
            &store,
            &printed,
        )
        .unwrap();
        let app = init_service(App::new().configure(|config| mount(&dispatchers, config))).await;

        for expected in [r#"{"status":"ok"}"#, r#"{"status":"duplicate"}"#] {
            for (platform, dispatcher) in &dispatchers {
                let request = signed_post(dispatcher.endpoint(), &path(platform), platform.sample);
                let response = call_service(&app, request).await;
                assert_eq!(response.status(), 200, "{}", platform.name);
                assert_eq!(read_body(response).await, expected, "{}", platform.name);
            }
        }
        assert_eq!(
            printed.lines(),
            [
                "Cancelled on eagenda: appointment apt12345 (John Smith)",
                "Cancelled on moncreneau: appointment 12345 (Jean Dupont)",
                "Cancelled on orufy: appointment 665f1c (unknown attendee)",
                "Cancelled on calendence: appointment bk_901 (Jane Doe)",
                "Cancelled on decoda: appointment appt_42 (unknown attendee)",
            ]
        );
    }

    #[actix_web::test]
    async fn a_platforms_secret_does_not_open_another_platforms_path() {
        let store: Arc<dyn IdempotencyStore> = Arc::new(MemoryStore::new());
        let printed = Printed::default();
        let dispatchers = dispatchers(
            |platform| format!("test-{}", platform.name),
            &store,
            &printed,
        )
        .unwrap();
        let app = init_service(App::new().configure(|config| mount(&dispatchers, config))).await;

        // Calendence and Decoda both sign with HMAC-SHA256, with different secrets.
        let (calendence, decoda) = (&dispatchers[3], &dispatchers[4]);
        let forged = signed_post(calendence.1.endpoint(), &path(decoda.0), decoda.0.sample);
        let response = call_service(&app, forged).await;
        assert_eq!(response.status(), 401);
        assert!(printed.lines().is_empty());
    }
}
