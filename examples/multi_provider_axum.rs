//! One axum server for all five platforms, with one cancellation handler
//! shared by every endpoint.
//!
//! Run it with `cargo run --example multi_provider_axum`. It listens on
//! `127.0.0.1:5000` (set `BOOKHOOK_ADDR` to change it) and serves:
//!
//! | path | platform | secret variable |
//! |---|---|---|
//! | `/webhook/eagenda` | eAgenda | `EAGENDA_TOKEN` |
//! | `/webhook/moncreneau` | MonCréneau | `MONCRENEAU_SECRET` |
//! | `/webhook/orufy` | Orufy Bookings | `ORUFY_TOKEN` |
//! | `/webhook/calendence` | Calendence | `CALENDENCE_SECRET` |
//! | `/webhook/decoda` | Decoda Health | `DECODA_SECRET` |
//!
//! A variable that is unset falls back to a printed development secret. At
//! start-up it prints, for each endpoint, a `curl` command that sends it a
//! correctly signed cancellation. Stop it with Ctrl-C.
//!
//! The cancellation handler is written once against the normalized
//! [`Appointment`] view and registered on every endpoint; each platform also
//! has its own creation handler. All endpoints share one `MemoryStore`, each
//! under its own namespace, so their keys never collide.

use std::sync::Arc;

use axum::Router;
use bookhook_axum::bookhook::{
    Appointment, Event,
    idempotency::{IdempotencyStore, MemoryStore},
};
use bookhook_axum::{
    ConfigError, Context, DispatcherBuilder, Endpoint, HandlerError, Kind, Provider, WebhookService,
};
use bookhook_examples::{Sink, listen_addr, print_curl, samples, secret_from_env, serve};

/// One endpoint of the server.
struct Site {
    provider: Provider,
    path: &'static str,
    variable: &'static str,
    development: &'static str,
    sample: &'static str,
}

const SITES: [Site; 5] = [
    Site {
        provider: Provider::Eagenda,
        path: "/webhook/eagenda",
        variable: "EAGENDA_TOKEN",
        development: "eagenda-development-token",
        sample: samples::EAGENDA_CANCELED,
    },
    Site {
        provider: Provider::Moncreneau,
        path: "/webhook/moncreneau",
        variable: "MONCRENEAU_SECRET",
        development: "moncreneau-development-secret",
        sample: samples::MONCRENEAU_CANCELLED,
    },
    Site {
        provider: Provider::Orufy,
        path: "/webhook/orufy",
        variable: "ORUFY_TOKEN",
        development: "orufy-development-token",
        sample: samples::ORUFY_CANCEL,
    },
    Site {
        provider: Provider::Calendence,
        path: "/webhook/calendence",
        variable: "CALENDENCE_SECRET",
        development: "calendence-development-secret",
        sample: samples::CALENDENCE_CANCELLED,
    },
    Site {
        provider: Provider::Decoda,
        path: "/webhook/decoda",
        variable: "DECODA_SECRET",
        development: "decoda-development-secret",
        sample: samples::DECODA_CANCELLED,
    },
];

fn attendee(appointment: &Appointment) -> &str {
    appointment
        .attendee
        .name
        .as_deref()
        .unwrap_or("unknown attendee")
}

/// The one cancellation handler, for every platform.
async fn on_cancelled(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Some(a) = ctx.appointment() {
        ctx.state().say(format!(
            "[{}] appointment {} cancelled ({})",
            a.provider,
            a.id,
            attendee(a)
        ));
    }
    Ok(())
}

async fn on_eagenda_created(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Event::Eagenda(event) = ctx.event() {
        let code = event.data().and_then(|d| d.search_code.clone());
        ctx.state().say(format!(
            "[eagenda] new appointment {}",
            code.unwrap_or_default()
        ));
    }
    Ok(())
}

async fn on_moncreneau_created(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Some(a) = ctx.appointment() {
        let office = a.location.as_deref().unwrap_or("an office");
        ctx.state()
            .say(format!("[moncreneau] {} booked at {office}", attendee(a)));
    }
    Ok(())
}

async fn on_orufy_created(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Some(a) = ctx.appointment() {
        ctx.state().say(format!(
            "[orufy] meeting {} booked by {}",
            a.id,
            attendee(a)
        ));
    }
    Ok(())
}

async fn on_calendence_created(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Some(a) = ctx.appointment() {
        ctx.state()
            .say(format!("[calendence] booking {} by {}", a.id, attendee(a)));
    }
    Ok(())
}

async fn on_decoda_created(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Some(a) = ctx.appointment() {
        ctx.state().say(format!(
            "[decoda] appointment {} scheduled for {}",
            a.id,
            attendee(a)
        ));
    }
    Ok(())
}

/// The server, and its endpoints in the order of [`SITES`] (to sign test requests).
fn app(
    secret_of: impl Fn(&Site) -> String,
    sink: &Sink,
) -> Result<(Router, Vec<Endpoint>), ConfigError> {
    let store: Arc<dyn IdempotencyStore> = Arc::new(MemoryStore::new());
    let mut router = Router::new();
    let mut endpoints = Vec::new();
    for site in &SITES {
        let endpoint = Endpoint::builder(site.provider)
            .secret(secret_of(site))
            .shared_store(Arc::clone(&store))
            // Each endpoint keeps its keys under its own path in the shared store.
            .namespace(site.path.trim_start_matches('/'))
            .build()?;
        let builder = DispatcherBuilder::new(endpoint.clone(), sink.clone())
            .on_kind(Kind::Cancelled, on_cancelled);
        let builder = match site.provider {
            Provider::Eagenda => builder.on_kind(Kind::Created, on_eagenda_created),
            Provider::Moncreneau => builder.on_kind(Kind::Created, on_moncreneau_created),
            Provider::Orufy => builder.on_kind(Kind::Created, on_orufy_created),
            Provider::Calendence => builder.on_kind(Kind::Created, on_calendence_created),
            Provider::Decoda => builder.on_kind(Kind::Created, on_decoda_created),
            _ => builder,
        };
        router = router.route_service(site.path, WebhookService::new(builder.build()?));
        endpoints.push(endpoint);
    }
    Ok((router, endpoints))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = listen_addr("127.0.0.1:5000")?;
    let (app, endpoints) = app(
        |site| secret_from_env(site.variable, site.development),
        &Sink::new(),
    )?;
    for (endpoint, site) in endpoints.iter().zip(&SITES) {
        print_curl(endpoint, addr, site.path, site.sample);
    }
    serve(app, addr).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookhook_examples::send_signed;

    fn test_secret(site: &Site) -> String {
        format!("test-{}", site.provider)
    }

    #[tokio::test]
    async fn one_cancellation_handler_serves_every_platform() {
        let sink = Sink::new();
        let (app, endpoints) = app(test_secret, &sink).unwrap();
        for (endpoint, site) in endpoints.iter().zip(&SITES) {
            let (status, body) = send_signed(&app, endpoint, site.path, site.sample).await;
            assert_eq!(
                (status, body.as_str()),
                (200, r#"{"status":"ok"}"#),
                "{}",
                site.path
            );
        }
        assert_eq!(
            sink.lines(),
            [
                "[eagenda] appointment apt12345-1234-5678-9abc-def012345678 cancelled (John Smith)",
                "[moncreneau] appointment 12345 cancelled (Jean Dupont)",
                "[orufy] appointment 665f1c cancelled (Maya Roy)",
                "[calendence] appointment b-1001 cancelled (Jane Doe)",
                "[decoda] appointment a-77 cancelled (Ann Lee)",
            ]
        );
    }

    #[tokio::test]
    async fn each_platform_has_its_creation_handler_and_its_own_keys() {
        let sink = Sink::new();
        let (app, endpoints) = app(test_secret, &sink).unwrap();
        let created = [
            samples::EAGENDA_CREATED,
            samples::MONCRENEAU_CREATED,
            samples::ORUFY_BOOK,
            samples::CALENDENCE_CREATED,
            samples::DECODA_SCHEDULED,
        ];
        for ((endpoint, site), body) in endpoints.iter().zip(&SITES).zip(created) {
            assert_eq!(send_signed(&app, endpoint, site.path, body).await.0, 200);
            let again = send_signed(&app, endpoint, site.path, body).await;
            assert_eq!(again.1, r#"{"status":"duplicate"}"#, "{}", site.path);
        }
        assert_eq!(
            sink.lines(),
            [
                "[eagenda] new appointment AGD-2026-001234",
                "[moncreneau] Jean Dupont booked at Passport Service",
                "[orufy] meeting 665f1c booked by Maya Roy",
                "[calendence] booking b-1001 by Jane Doe",
                "[decoda] appointment a-77 scheduled for Ann Lee",
            ]
        );
    }

    #[tokio::test]
    async fn a_secret_of_one_platform_does_not_open_another() {
        let sink = Sink::new();
        let (app, endpoints) = app(test_secret, &sink).unwrap();
        let calendence = &endpoints[3];
        let (status, _) = send_signed(
            &app,
            calendence,
            "/webhook/decoda",
            samples::CALENDENCE_CREATED,
        )
        .await;
        assert_eq!(status, 401);
        assert!(sink.lines().is_empty());
    }
}
