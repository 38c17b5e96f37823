//! `listen --metrics ADDR`: the core's metrics (`bookhook::metrics`) served in
//! the Prometheus text format at `http://ADDR/metrics`.
//!
//! The recorder is `metrics-exporter-prometheus` without its own HTTP
//! listener or push gateway; the page is served by axum, like the webhook
//! path, on a listener of its own so that scrapes never share the webhook
//! port.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bookhook::metrics::BODY_BYTES;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::CliError;

/// The path the metrics are served at.
pub(crate) const PATH: &str = "/metrics";

/// Bucket bounds of the duration histograms, in seconds: from half a
/// millisecond (a rejected request) to half a minute (a slow `--exec`).
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Bucket bounds of the body size histogram, in bytes, up to the largest
/// `--max-body` most senders need.
const BYTES_BUCKETS: &[f64] = &[
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
];

/// How often histograms are trimmed of old samples.
const UPKEEP: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder for the whole process, then serves its
/// page at `http://{addr}/metrics` on a task of its own. Returns the bound
/// address (`addr` may name port 0).
pub(crate) async fn serve(addr: SocketAddr) -> Result<SocketAddr, CliError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
        .and_then(|builder| {
            builder.set_buckets_for_metric(Matcher::Full(BODY_BYTES.to_owned()), BYTES_BUCKETS)
        })
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|err| CliError::failure(format!("cannot record metrics: {err}")))?;
    bookhook::metrics::describe();

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| CliError::failure(format!("cannot serve metrics on {addr}: {err}")))?;
    let bound = listener
        .local_addr()
        .map_err(|err| CliError::failure(format!("cannot read the metrics address: {err}")))?;

    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new().route(PATH, get(page)).with_state(handle);
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            eprintln!("error: the metrics server stopped: {err}");
        }
    });
    Ok(bound)
}

/// The metrics page, in the Prometheus text format 0.0.4.
async fn page(State(handle): State<PrometheusHandle>) -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    )
        .into_response()
}
