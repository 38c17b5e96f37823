//! The framework floor of the load harness: an axum 0.8 route that reads the
//! body and answers `200 {"status":"ok"}`, with no verification, parsing or
//! deduplication. Listens on `BOOKHOOK_ADDR` (default `127.0.0.1:18081`), on
//! the paths of the eAgenda (`bench/load.sh`) and Calendence (`bench/inbox.sh`)
//! loads.

/// The same allocator as bookhook's example servers (`bookhook-examples`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;

async fn ok(body: Bytes) -> impl IntoResponse {
    // The body is read (as any receiver must) and dropped.
    drop(body);
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("BOOKHOOK_ADDR").unwrap_or_else(|_| "127.0.0.1:18081".to_owned());
    let app = Router::new()
        .route("/webhook/eagenda", post(ok))
        .route("/webhook/calendence", post(ok));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("Listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
