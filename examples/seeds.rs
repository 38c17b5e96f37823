//! Verifies, types, deduplicates and routes the five platforms' sample payloads.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example seeds
//! ```
//!
//! For each platform it signs every sample payload the way the platform does,
//! sends it through a dispatcher (verify → parse → claim → route → handler),
//! then sends the same delivery again (a duplicate) and a copy with a forged
//! signature or token (401).
//! One handler, written against the normalized appointment view, serves all five.

use bookhook::testing::samples::sample;
use bookhook::testing::signed_request;
use bookhook::{Context, Dispatcher, Endpoint, HandlerError, Provider, endpoint::Request};

/// The samples to send, by event type (`bookhook::testing::samples` holds the
/// payloads, as the platforms publish them or, for Orufy and Decoda, written
/// from their documented field lists).
const SAMPLES: &[(Provider, &str)] = &[
    (Provider::Eagenda, "appointment.created"),
    (Provider::Moncreneau, "appointment.created"),
    (Provider::Moncreneau, "appointment.updated"),
    (Provider::Moncreneau, "appointment.cancelled"),
    (Provider::Moncreneau, "appointment.validated"),
    (Provider::Moncreneau, "appointment.completed"),
    (Provider::Orufy, "BOOK"),
    (Provider::Orufy, "RESCHEDULE"),
    (Provider::Orufy, "CANCEL"),
    (Provider::Orufy, "NO_SHOW"),
    (Provider::Calendence, "booking.created"),
    (Provider::Decoda, "APPOINTMENT_SCHEDULED"),
    (Provider::Decoda, "APPOINTMENT_RESCHEDULED"),
    (Provider::Decoda, "APPOINTMENT_CANCELLED"),
    (Provider::Decoda, "PAYMENT_CREATED"),
];

/// The one handler: it sees every platform through the same normalized view.
async fn print_appointment(ctx: Context) -> Result<(), HandlerError> {
    let delivery = ctx.delivery();
    match ctx.appointment() {
        Some(appointment) => println!(
            "  handler: {} {} `{}` appointment {} at {} for {}",
            delivery.provider(),
            delivery.kind(),
            delivery.event_type(),
            appointment.id,
            appointment
                .starts_at
                .map_or_else(|| "?".to_owned(), |t| t.to_string()),
            appointment.attendee.name.as_deref().unwrap_or("?"),
        ),
        None => println!(
            "  handler: {} {} `{}` (not an appointment event)",
            delivery.provider(),
            delivery.kind(),
            delivery.event_type()
        ),
    }
    Ok(())
}

fn dispatcher(provider: Provider) -> Result<Dispatcher, Box<dyn std::error::Error>> {
    let endpoint = Endpoint::builder(provider)
        .secret(format!("{provider}-development-secret"))
        .build()?;
    Ok(Dispatcher::builder(endpoint)
        .fallback(print_appointment)
        .build()?)
}

/// Sends `body` signed as the platform would; `forge` spoils the signature
/// or token, as an attacker without the secret would have to.
async fn send(dispatcher: &Dispatcher, body: &[u8], forge: bool) -> (u16, String) {
    let (mut headers, mut query) = signed_request(dispatcher.endpoint(), body);
    if forge {
        for (name, value) in &mut headers {
            if !name.eq_ignore_ascii_case("content-type") {
                value.push('0');
            }
        }
        if let Some(query) = &mut query {
            query.push('0');
        }
    }
    let body = body.to_vec();
    let finished = dispatcher
        .dispatch(Request::post(&headers, body.into()).with_query(query.as_deref()))
        .await;
    (finished.status(), finished.outcome().as_str().to_owned())
}

/// Sends every sample three times and checks the outcomes; returns how many
/// samples behaved as expected.
async fn run() -> Result<usize, Box<dyn std::error::Error>> {
    let mut dispatchers = Vec::new();
    for provider in [
        Provider::Eagenda,
        Provider::Moncreneau,
        Provider::Orufy,
        Provider::Calendence,
        Provider::Decoda,
    ] {
        dispatchers.push((provider, dispatcher(provider)?));
    }
    let mut failures = 0;
    for (provider, event_type) in SAMPLES {
        let Some((_, dispatcher)) = dispatchers.iter().find(|(p, _)| p == provider) else {
            continue;
        };
        let body = sample(*provider, event_type)
            .ok_or_else(|| format!("no {provider} sample of type `{event_type}`"))?;
        println!("{provider}:");
        let first = send(dispatcher, body.as_bytes(), false).await;
        let again = send(dispatcher, body.as_bytes(), false).await;
        let forged = send(dispatcher, body.as_bytes(), true).await;
        println!(
            "  first copy {} {} | same copy again {} {} | forged signature {} {}",
            first.0, first.1, again.0, again.1, forged.0, forged.1
        );
        if first.0 != 200 || again.1 != "duplicate" || forged.0 != 401 {
            failures += 1;
        }
    }
    if failures > 0 {
        return Err(format!("{failures} sample(s) did not behave as expected").into());
    }
    Ok(SAMPLES.len())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let checked = run().await?;
    println!("all {checked} samples verified, handled once, and forged copies refused");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn every_sample_is_handled_once_and_forgeries_are_refused() {
        assert_eq!(super::run().await.unwrap(), super::SAMPLES.len());
    }
}
