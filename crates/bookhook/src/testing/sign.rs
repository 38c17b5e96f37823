//! Signing requests the way each platform would.

use crate::endpoint::Endpoint;
use crate::signature::SignRequest;

/// Signs `body` for `endpoint` as its platform would, at the endpoint's clock's
/// current time, and returns the headers to send (including `Content-Type`)
/// and the query string, if the scheme puts a token there.
///
/// ```
/// use bookhook::testing::signed_request;
/// use bookhook::{Endpoint, Provider};
///
/// let endpoint = Endpoint::builder(Provider::Calendence).secret("s3cr3t").build().unwrap();
/// let (headers, query) = signed_request(&endpoint, b"{}");
/// assert!(headers.iter().any(|(name, _)| name == "X-Calendence-Signature"));
/// assert_eq!(query, None);
/// ```
pub fn signed_request(endpoint: &Endpoint, body: &[u8]) -> (Vec<(String, String)>, Option<String>) {
    signed_request_with(endpoint, body, SignRequest::at(endpoint.clock().now()))
}

/// Like [`signed_request`], with an explicit id and timestamp.
pub fn signed_request_with(
    endpoint: &Endpoint,
    body: &[u8],
    request: SignRequest,
) -> (Vec<(String, String)>, Option<String>) {
    let signed = endpoint.sign(body, &request);
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    headers.extend(signed.headers);
    (headers, signed.query)
}
