//! MonCréneau's "route by type" sample with actix-web: one handler per
//! event type, and a fallback that logs the others. MonCréneau's
//! idempotence snippet (look the event id up in a table, process, insert)
//! is replaced by bookhook's store, which also copes with two copies
//! arriving at once and with a handler that fails half-way.
//!
//! Run it:
//!
//! ```sh
//! MONCRENEAU_SECRET=whsec_... cargo run -p bookhook-examples --example moncreneau_actix
//! ```
//!
//! It listens on `127.0.0.1:5002` (set `BOOKHOOK_ADDR` to change it) and
//! serves `POST /webhook/moncreneau`. At start-up it prints a `curl`
//! command that sends a correctly signed `appointment.created` event: paste
//! it into another terminal.

#[allow(dead_code, reason = "each example uses part of the shared helpers")]
mod actix_support;

use actix_support::{Printed, curl_command, listen_addr, secret};
use actix_web::{App, HttpServer};
use bookhook_actix::bookhook::Event;
use bookhook_actix::bookhook::provider::moncreneau::{self, AppointmentObject};
use bookhook_actix::{
    ConfigError, Context, Dispatcher, DispatcherBuilder, Endpoint, HandlerError, Provider,
};

/// Where MonCréneau delivers.
const PATH: &str = "/webhook/moncreneau";
/// The environment variable holding the webhook's signing secret.
const SECRET_VAR: &str = "MONCRENEAU_SECRET";
/// The secret used when `MONCRENEAU_SECRET` is not set. For development only.
const DEV_SECRET: &str = "whsec_dev_moncreneau";

/// The `appointment.created` payload of MonCréneau's documentation.
const SAMPLE: &str = r#"{"id":"evt_abc123","type":"appointment.created","created":"2026-01-21T14:30:00Z","data":{"object":{"id":12345,"departmentId":5,"department":{"id":5,"name":"Passport Service","organization":{"id":1,"name":"Ministry of Interior"}},"dateTime":"2026-01-25T14:30:00","status":"SCHEDULED","name":"Jean Dupont","phone":"+224621234567","email":"jean.dupont@example.gn","qrCode":"https://moncreneau.gn/qr/12345","createdAt":"2026-01-21T14:30:00Z","creditsUsed":1}}}"#;

/// `event.data.object`, as the sample hands it to each handler.
fn object<S>(ctx: &Context<S>) -> Option<&AppointmentObject> {
    match ctx.event() {
        Event::Moncreneau(
            moncreneau::Event::Created(object)
            | moncreneau::Event::Cancelled(object)
            | moncreneau::Event::Validated(object),
        ) => Some(object),
        _ => None,
    }
}

fn who(object: &AppointmentObject) -> &str {
    object.name.as_deref().unwrap_or("unknown attendee")
}

async fn handle_appointment_created(ctx: Context<Printed>) -> Result<(), HandlerError> {
    if let Some(object) = object(&ctx) {
        // Send a confirmation SMS, create a CRM entry, ...
        ctx.state().say(format!(
            "Appointment {} created for {}",
            object.id,
            who(object)
        ));
    }
    Ok(())
}

async fn handle_appointment_cancelled(ctx: Context<Printed>) -> Result<(), HandlerError> {
    if let Some(object) = object(&ctx) {
        // Free up the slot, refund the credit, ...
        ctx.state().say(format!(
            "Appointment {} cancelled for {}",
            object.id,
            who(object)
        ));
    }
    Ok(())
}

async fn handle_appointment_validated(ctx: Context<Printed>) -> Result<(), HandlerError> {
    if let Some(object) = object(&ctx) {
        // Mark the appointment as honoured, generate the invoice, ...
        ctx.state().say(format!(
            "Appointment {} validated for {}",
            object.id,
            who(object)
        ));
    }
    Ok(())
}

async fn unhandled(ctx: Context<Printed>) -> Result<(), HandlerError> {
    ctx.state()
        .say(format!("Unhandled event: {}", ctx.delivery().event_type()));
    Ok(())
}

/// The endpoint: MonCréneau's preset (HMAC-SHA256, `sha256=` prefix).
fn endpoint(secret: String) -> Result<Endpoint, ConfigError> {
    Endpoint::builder(Provider::Moncreneau)
        .secret(secret)
        .build()
}

/// The sample's `switch (event.type)`. Upper-case spellings such as
/// `APPOINTMENT_CREATED` arrive under their dotted names.
fn dispatcher(endpoint: Endpoint, printed: Printed) -> Result<Dispatcher<Printed>, ConfigError> {
    DispatcherBuilder::new(endpoint, printed)
        .on("appointment.created", handle_appointment_created)
        .on("appointment.cancelled", handle_appointment_cancelled)
        .on("appointment.validated", handle_appointment_validated)
        .fallback(unhandled)
        .build()
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = listen_addr("127.0.0.1:5002");
    let endpoint = endpoint(secret(SECRET_VAR, DEV_SECRET))?;
    let dispatcher = dispatcher(endpoint.clone(), Printed::default())?;

    println!("MonCréneau webhook server on http://{addr}{PATH}");
    println!("Send it a signed test event:\n");
    println!("{}\n", curl_command(&addr, PATH, &endpoint, SAMPLE));

    // Header, idle and shutdown timeouts and a connection cap (ServerLimits),
    // at most 256 deliveries in progress, and at SIGTERM or SIGINT a 30 s
    // grace period after which deliveries still running are cut off with
    // their claims released (a second signal exits at once). The body
    // timeout and the unverified budget are the endpoint's.
    let server = HttpServer::new(move || {
        App::new().service(bookhook_actix::resource(PATH, dispatcher.clone()))
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
    async fn routes_by_type_once_per_event() {
        let endpoint = endpoint("whsec_test".to_owned()).unwrap();
        let printed = Printed::default();
        let app = init_service(App::new().service(bookhook_actix::resource(
            PATH,
            dispatcher(endpoint.clone(), printed.clone()).unwrap(),
        )))
        .await;

        let cancelled = SAMPLE
            .replace("evt_abc123", "evt_ghi789")
            .replace("appointment.created", "appointment.cancelled");
        let validated = SAMPLE
            .replace("evt_abc123", "evt_jkl012")
            .replace("appointment.created", "APPOINTMENT_VALIDATED");
        let completed = SAMPLE
            .replace("evt_abc123", "evt_mno345")
            .replace("appointment.created", "appointment.completed");
        let sends = [
            (SAMPLE.to_owned(), r#"{"status":"ok"}"#),
            (SAMPLE.to_owned(), r#"{"status":"duplicate"}"#),
            (cancelled, r#"{"status":"ok"}"#),
            (validated, r#"{"status":"ok"}"#),
            (completed.clone(), r#"{"status":"ok"}"#),
            (completed, r#"{"status":"duplicate"}"#),
        ];
        for (body, expected) in sends {
            let response = call_service(&app, signed_post(&endpoint, PATH, &body)).await;
            assert_eq!(response.status(), 200, "{body}");
            assert_eq!(read_body(response).await, expected, "{body}");
        }
        assert_eq!(
            printed.lines(),
            [
                "Appointment 12345 created for Jean Dupont",
                "Appointment 12345 cancelled for Jean Dupont",
                "Appointment 12345 validated for Jean Dupont",
                "Unhandled event: appointment.completed",
            ]
        );
    }

    #[actix_web::test]
    async fn unsigned_request_is_refused() {
        let printed = Printed::default();
        let app = init_service(App::new().service(bookhook_actix::resource(
            PATH,
            dispatcher(endpoint("whsec_test".to_owned()).unwrap(), printed.clone()).unwrap(),
        )))
        .await;
        let request = actix_web::test::TestRequest::post()
            .uri(PATH)
            .set_payload(SAMPLE)
            .to_request();
        let response = call_service(&app, request).await;
        assert_eq!(response.status(), 401);
        let body = read_body(response).await;
        assert!(
            body.starts_with(br#"{"error":"invalid_signature""#),
            "{body:?}"
        );
        assert!(printed.lines().is_empty());
    }
}
