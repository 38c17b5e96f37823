//! Helpers shared by the actix-web examples: address and secrets from the
//! environment, a ready-to-paste `curl` command, and a record of what the
//! handlers printed (so each example's test can check it).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bookhook_actix::Endpoint;
use bookhook_actix::bookhook::testing::signed_request;

/// The environment variable that overrides an example's listening address.
pub(crate) const ADDR_VAR: &str = "BOOKHOOK_ADDR";

/// The address to listen on: `BOOKHOOK_ADDR`, or `default`.
pub(crate) fn listen_addr(default: &str) -> String {
    std::env::var(ADDR_VAR).unwrap_or_else(|_| default.to_owned())
}

/// The secret in the environment variable `var`, or a development fallback
/// (announced on standard output, so nobody runs it in production unaware).
pub(crate) fn secret(var: &str, fallback: &str) -> String {
    match std::env::var(var) {
        Ok(secret) if !secret.is_empty() => secret,
        _ => {
            println!("{var} is not set; using the development secret `{fallback}`");
            fallback.to_owned()
        }
    }
}

/// A `curl` command that sends `body` to `http://{addr}{path}`, signed for
/// `endpoint` as its platform would sign it, right now.
pub(crate) fn curl_command(addr: &str, path: &str, endpoint: &Endpoint, body: &str) -> String {
    let (headers, query) = signed_request(endpoint, body.as_bytes());
    let mut url = format!("http://{addr}{path}");
    if let Some(query) = query {
        url.push('?');
        url.push_str(&query);
    }
    let mut command = format!("curl -i -X POST {}", shell_quote(&url));
    for (name, value) in headers {
        command.push_str(" \\\n  -H ");
        command.push_str(&shell_quote(&format!("{name}: {value}")));
    }
    command.push_str(" \\\n  --data-binary ");
    command.push_str(&shell_quote(body));
    command
}

/// Quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// What the handlers printed: each line goes to standard output (unless
/// `BOOKHOOK_QUIET` is set) and the last [`Printed::KEEP`] lines are kept, so
/// tests can check what a handler did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Printed(Arc<Mutex<VecDeque<String>>>);

impl Printed {
    /// How many lines are kept.
    pub(crate) const KEEP: usize = 100;

    /// Prints `line` and keeps it.
    pub(crate) fn say(&self, line: String) {
        if !bookhook_examples::quiet() {
            println!("{line}");
        }
        let mut lines = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == Self::KEEP {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The lines kept, oldest first.
    pub(crate) fn lines(&self) -> Vec<String> {
        let lines = self.0.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().cloned().collect()
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Sending signed requests to an example's app in its tests.

    use actix_web::test::TestRequest;
    use bookhook_actix::Endpoint;
    use bookhook_actix::bookhook::testing::signed_request;

    /// A POST of `body` to `path`, signed for `endpoint`.
    pub(crate) fn signed_post(endpoint: &Endpoint, path: &str, body: &str) -> actix_http::Request {
        let (headers, query) = signed_request(endpoint, body.as_bytes());
        let uri = match query {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        let mut request = TestRequest::post()
            .uri(&uri)
            .set_payload(body.as_bytes().to_vec());
        for header in headers {
            request = request.insert_header(header);
        }
        request.to_request()
    }
}
