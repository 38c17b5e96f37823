//! MonCréneau webhooks with axum: "route by type" and "idempotence" from
//! MonCréneau's docs, without a hand-written `switch` or a table of seen ids.
//!
//! Run it with `cargo run --example moncreneau_axum`. It listens on
//! `127.0.0.1:5001` (set `BOOKHOOK_ADDR` to change it), reads the signing
//! secret from `MONCRENEAU_SECRET` (a printed development secret otherwise),
//! and prints at start-up a `curl` command that sends it a correctly signed
//! event. Stop it with Ctrl-C.
//!
//! - Route by type: one handler each for created, cancelled and validated
//!   appointments; the fallback logs `Unhandled event: {type}`. Routes use the
//!   normalized kinds, so `appointment.created` and `APPOINTMENT_CREATED` reach
//!   the same handler.
//! - Idempotence: the endpoint's store remembers each event `id` it handled
//!   (72 h by default); a repeated delivery is acknowledged and the handler
//!   does not run again. There is no dedup code to write.

use axum::Router;
use bookhook_axum::bookhook::{Appointment, idempotency::MemoryStore};
use bookhook_axum::{
    ConfigError, Context, DispatcherBuilder, Endpoint, HandlerError, Kind, Provider, WebhookService,
};
use bookhook_examples::{Sink, listen_addr, print_curl, samples, secret_from_env, serve};

const PATH: &str = "/webhook/moncreneau";

fn who(appointment: Option<&Appointment>) -> (String, String) {
    match appointment {
        Some(a) => (
            a.id.clone(),
            a.attendee.name.clone().unwrap_or_else(|| "someone".into()),
        ),
        None => ("?".into(), "someone".into()),
    }
}

async fn handle_appointment_created(ctx: Context<Sink>) -> Result<(), HandlerError> {
    let (id, name) = who(ctx.appointment());
    let when = ctx
        .appointment()
        .and_then(|a| a.starts_at)
        .map(|t| t.to_string())
        .unwrap_or_default();
    ctx.state()
        .say(format!("Appointment {id} created for {name} at {when}"));
    Ok(())
}

async fn handle_appointment_cancelled(ctx: Context<Sink>) -> Result<(), HandlerError> {
    let (id, name) = who(ctx.appointment());
    ctx.state()
        .say(format!("Appointment {id} of {name} cancelled"));
    Ok(())
}

async fn handle_appointment_validated(ctx: Context<Sink>) -> Result<(), HandlerError> {
    let (id, name) = who(ctx.appointment());
    ctx.state()
        .say(format!("Appointment {id}: {name} was present"));
    Ok(())
}

async fn unhandled(ctx: Context<Sink>) -> Result<(), HandlerError> {
    ctx.state()
        .say(format!("Unhandled event: {}", ctx.delivery().event_type()));
    Ok(())
}

/// The server: one MonCréneau endpoint, routed by type.
fn app(secret: &str, sink: Sink) -> Result<(Router, Endpoint), ConfigError> {
    let endpoint = Endpoint::builder(Provider::Moncreneau)
        .secret(secret)
        .store(MemoryStore::new())
        .build()?;
    let dispatcher = DispatcherBuilder::new(endpoint.clone(), sink)
        .on_kind(Kind::Created, handle_appointment_created)
        .on_kind(Kind::Cancelled, handle_appointment_cancelled)
        .on_kind(Kind::CheckedIn, handle_appointment_validated)
        .fallback(unhandled)
        .build()?;
    let app = Router::new().route_service(PATH, WebhookService::new(dispatcher));
    Ok((app, endpoint))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = secret_from_env("MONCRENEAU_SECRET", "moncreneau-development-secret");
    let addr = listen_addr("127.0.0.1:5001")?;
    let (app, endpoint) = app(&secret, Sink::new())?;
    print_curl(&endpoint, addr, PATH, samples::MONCRENEAU_CREATED);
    serve(app, addr).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookhook_examples::send_signed;

    #[tokio::test]
    async fn routes_each_type_and_handles_each_event_once() {
        let sink = Sink::new();
        let (app, endpoint) = app("test-secret", sink.clone()).unwrap();
        for body in [
            samples::MONCRENEAU_CREATED,
            samples::MONCRENEAU_CREATED,
            samples::MONCRENEAU_CANCELLED,
            samples::MONCRENEAU_VALIDATED,
            samples::MONCRENEAU_COMPLETED,
            samples::MONCRENEAU_COMPLETED,
        ] {
            let (status, response) = send_signed(&app, &endpoint, PATH, body).await;
            assert_eq!(status, 200, "{response}");
        }
        assert_eq!(
            sink.lines(),
            [
                "Appointment 12345 created for Jean Dupont at 2026-01-25T14:30:00",
                "Appointment 12345 of Jean Dupont cancelled",
                "Appointment 12345: Jean Dupont was present",
                "Unhandled event: appointment.completed",
            ]
        );
    }

    #[tokio::test]
    async fn repeated_event_id_answers_duplicate() {
        let (app, endpoint) = app("test-secret", Sink::new()).unwrap();
        let first = send_signed(&app, &endpoint, PATH, samples::MONCRENEAU_CANCELLED).await;
        let second = send_signed(&app, &endpoint, PATH, samples::MONCRENEAU_CANCELLED).await;
        assert_eq!(first.1, r#"{"status":"ok"}"#);
        assert_eq!(second.1, r#"{"status":"duplicate"}"#);
    }
}
