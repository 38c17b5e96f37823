//! A minimal HTTP/1.1 client for `send`: one POST per connection over plain
//! TCP (`http://` only), `Content-Length` body, `Connection: close`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest response read; the rest is ignored.
const MAX_RESPONSE: u64 = 1024 * 1024;

/// Where to send: the parts of an `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    host: String,
    port: u16,
    /// `host[:port]` as written, for the `Host` header.
    authority: String,
    /// The path and query, starting with `/`.
    path_and_query: String,
}

impl Target {
    /// Parses an `http://host[:port][/path][?query]` URL.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid url `{url}`: {why}");
        let rest = url
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
            .and_then(|_| url.get(7..))
            .ok_or_else(|| bad("only http:// urls are supported"))?;
        if rest
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b >= 0x80)
        {
            return Err(bad("it holds spaces, control or non-ascii characters"));
        }
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            return Err(bad("credentials in the url are not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed ipv6 address"))?;
            let port = match after {
                "" => None,
                after => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("expected `:port` after the ipv6 address"))?,
                ),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None => 80,
            Some(port) => port.parse::<u16>().map_err(|_| bad("invalid port"))?,
        };
        let path_and_query = if tail.starts_with('/') {
            tail.to_owned()
        } else {
            format!("/{tail}")
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path_and_query,
        })
    }

    /// The same target with `fragment` (`name=value`) appended to the query.
    pub(crate) fn with_query(&self, fragment: Option<&str>) -> Self {
        let mut target = self.clone();
        if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
            let separator = if target.path_and_query.contains('?') {
                '&'
            } else {
                '?'
            };
            target.path_and_query.push(separator);
            target.path_and_query.push_str(fragment);
        }
        target
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// The response body (lossy UTF-8), possibly cut at the read limit.
    pub(crate) body: String,
}

/// POSTs `body` with `headers` and waits at most `timeout` for the whole exchange.
pub(crate) async fn post(
    target: &Target,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<Reply, String> {
    tokio::time::timeout(timeout, exchange(target, headers, body))
        .await
        .map_err(|_| format!("no complete response within {} s", timeout.as_secs()))?
}

async fn exchange(
    target: &Target,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Reply, String> {
    let mut stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|err| format!("cannot connect to {}: {err}", target.authority))?;
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: bookhook/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        target.path_and_query,
        target.authority,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    stream
        .write_all(&request)
        .await
        .map_err(|err| format!("cannot send the request: {err}"))?;
    stream
        .flush()
        .await
        .map_err(|err| format!("cannot send the request: {err}"))?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut response)
        .await
        .map_err(|err| format!("cannot read the response: {err}"))?;
    parse_response(&response)
}

/// Reads the status line (`HTTP/1.x NNN reason`) and the body after the headers.
fn parse_response(response: &[u8]) -> Result<Reply, String> {
    let line_end = response
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or("the response has no status line")?;
    let line = std::str::from_utf8(&response[..line_end])
        .map_err(|_| "the status line is not utf-8".to_owned())?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an http/1 response: `{line}`"));
    }
    let status = parts
        .next()
        .filter(|code| code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("invalid status line `{line}`"))?;
    let body = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| String::from_utf8_lossy(&response[at + 4..]).into_owned())
        .unwrap_or_default();
    Ok(Reply { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_urls() {
        let target = Target::parse("http://127.0.0.1:5000/webhook?x=1").unwrap();
        assert_eq!(target.host, "127.0.0.1");
        assert_eq!(target.port, 5000);
        assert_eq!(target.authority, "127.0.0.1:5000");
        assert_eq!(target.path_and_query, "/webhook?x=1");

        let target = Target::parse("HTTP://localhost").unwrap();
        assert_eq!((target.port, target.path_and_query.as_str()), (80, "/"));

        let target = Target::parse("http://[::1]:8080?token=t#frag").unwrap();
        assert_eq!(target.host, "::1");
        assert_eq!(target.path_and_query, "/?token=t");
    }

    #[test]
    fn refuses_what_it_cannot_send() {
        for url in [
            "https://example.com/",
            "ftp://x",
            "http://",
            "http://:80/",
            "http://host:port/",
            "http://host:99999/",
            "http://user:pw@host/",
            "http://host/a b",
            "http://host/a\r\nX: y",
            "http://[::1/",
            "h",
        ] {
            assert!(Target::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn appends_a_query_fragment() {
        let target = Target::parse("http://h/p").unwrap();
        assert_eq!(
            target.with_query(Some("token=t")).path_and_query,
            "/p?token=t"
        );
        let target = Target::parse("http://h/p?a=1").unwrap();
        assert_eq!(
            target.with_query(Some("token=t")).path_and_query,
            "/p?a=1&token=t"
        );
        assert_eq!(target.with_query(None), target);
    }

    #[test]
    fn reads_the_status_and_body() {
        let reply =
            parse_response(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!(
            reply,
            Reply {
                status: 401,
                body: "{}".into()
            }
        );
        assert!(parse_response(b"").is_err());
        assert!(parse_response(b"SSH-2.0-x\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 20 OK\r\n\r\n").is_err());
    }
}
