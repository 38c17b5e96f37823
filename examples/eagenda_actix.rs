//! eAgenda's Flask/Express webhook sample, done properly with actix-web:
//! every request is verified (eAgenda's bearer token), parsed into typed
//! events and deduplicated, so a retried delivery is not handled twice.
//!
//! Run it:
//!
//! ```sh
//! EAGENDA_TOKEN=your-token cargo run -p bookhook-examples --example eagenda_actix
//! ```
//!
//! It listens on `127.0.0.1:5001` (set `BOOKHOOK_ADDR` to change it) and
//! serves `POST /webhook/eagenda`. At start-up it prints a `curl` command
//! that sends a correctly signed test event: paste it into another
//! terminal. Paste it twice and the second answer is
//! `{"status":"duplicate"}`, with nothing printed.

#[allow(dead_code, reason = "each example uses part of the shared helpers")]
mod actix_support;

use actix_support::{Printed, curl_command, listen_addr, secret};
use actix_web::{App, HttpServer};
use bookhook_actix::bookhook::Event;
use bookhook_actix::bookhook::provider::eagenda;
use bookhook_actix::{
    ConfigError, Context, Dispatcher, DispatcherBuilder, Endpoint, HandlerError, Provider,
};

/// Where eAgenda delivers.
const PATH: &str = "/webhook/eagenda";
/// The environment variable holding the token configured in eAgenda.
const TOKEN_VAR: &str = "EAGENDA_TOKEN";
/// The token used when `EAGENDA_TOKEN` is not set. For development only.
const DEV_TOKEN: &str = "dev-eagenda-token";

/// The payload of eAgenda's documentation.
const SAMPLE: &str = r#"{"event":"appointment.created","timestamp":"2026-06-04T14:30:00-03:00","data":{"appointment_key":"apt12345-1234-5678-9abc-def012345678","search_code":"AGD-2026-001234","status":"CONFIRMED","start_date":"2026-06-10T09:00:00-03:00","calendar":{"calendar_key":"abc12345","name":"Dr. Silva's Office"},"person":{"full_name":"John Smith","email":"john@example.com"}}}"#;

/// The booking code eAgenda shows people, or the appointment key when absent.
fn code(data: &eagenda::AppointmentData) -> &str {
    data.search_code.as_deref().unwrap_or(&data.appointment_key)
}

async fn on_created(ctx: Context<Printed>) -> Result<(), HandlerError> {
    if let Event::Eagenda(eagenda::Event::AppointmentCreated(data)) = ctx.event() {
        ctx.state().say(format!("New appointment: {}", code(data)));
        // Your logic here (send an SMS, update a CRM, ...).
    }
    Ok(())
}

async fn on_canceled(ctx: Context<Printed>) -> Result<(), HandlerError> {
    if let Event::Eagenda(eagenda::Event::AppointmentCanceled(data)) = ctx.event() {
        ctx.state().say(format!("Cancellation: {}", code(data)));
    }
    Ok(())
}

/// The endpoint: eAgenda's preset (a bearer token) and an in-memory store.
fn endpoint(token: String) -> Result<Endpoint, ConfigError> {
    Endpoint::builder(Provider::Eagenda).secret(token).build()
}

/// Routes eAgenda's two event types, as the sample does. Other types are
/// acknowledged with `{"status":"ignored"}`.
fn dispatcher(endpoint: Endpoint, printed: Printed) -> Result<Dispatcher<Printed>, ConfigError> {
    DispatcherBuilder::new(endpoint, printed)
        .on("appointment.created", on_created)
        .on("appointment.canceled", on_canceled)
        .build()
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = listen_addr("127.0.0.1:5001");
    let endpoint = endpoint(secret(TOKEN_VAR, DEV_TOKEN))?;
    let dispatcher = dispatcher(endpoint.clone(), Printed::default())?;

    println!("eAgenda webhook server on http://{addr}{PATH}");
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
    async fn created_then_cancelled_prints_each_once() {
        let endpoint = endpoint("test-token".to_owned()).unwrap();
        let printed = Printed::default();
        let app = init_service(App::new().service(bookhook_actix::resource(
            PATH,
            dispatcher(endpoint.clone(), printed.clone()).unwrap(),
        )))
        .await;

        for expected in [r#"{"status":"ok"}"#, r#"{"status":"duplicate"}"#] {
            let response = call_service(&app, signed_post(&endpoint, PATH, SAMPLE)).await;
            assert_eq!(response.status(), 200);
            assert_eq!(read_body(response).await, expected);
        }
        let cancel = SAMPLE.replace("appointment.created", "appointment.canceled");
        let response = call_service(&app, signed_post(&endpoint, PATH, &cancel)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(read_body(response).await, r#"{"status":"ok"}"#);

        assert_eq!(
            printed.lines(),
            [
                "New appointment: AGD-2026-001234",
                "Cancellation: AGD-2026-001234"
            ]
        );
    }

    #[actix_web::test]
    async fn wrong_token_is_refused_and_prints_nothing() {
        let printed = Printed::default();
        let app = init_service(App::new().service(bookhook_actix::resource(
            PATH,
            dispatcher(endpoint("test-token".to_owned()).unwrap(), printed.clone()).unwrap(),
        )))
        .await;
        let forged = endpoint("not-the-token".to_owned()).unwrap();
        let response = call_service(&app, signed_post(&forged, PATH, SAMPLE)).await;
        assert_eq!(response.status(), 401);
        let body = read_body(response).await;
        assert!(
            body.starts_with(br#"{"error":"invalid_signature""#),
            "{body:?}"
        );
        assert!(printed.lines().is_empty());
    }

    #[test]
    fn curl_command_carries_the_token() {
        let endpoint = endpoint("test-token".to_owned()).unwrap();
        let command = curl_command("127.0.0.1:5001", PATH, &endpoint, SAMPLE);
        assert!(command.starts_with("curl -i -X POST 'http://127.0.0.1:5001/webhook/eagenda'"));
        assert!(command.contains("-H 'Authorization: Bearer test-token'"));
        assert!(command.contains(r#""search_code":"AGD-2026-001234""#));
    }
}
