//! Property tests: signing then verifying succeeds for every scheme, and any
//! single-bit change to the body, the signature or the secret is rejected.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bookhook::{
    endpoint::{NoHeaders, Request},
    signature::{Encoding, HmacScheme, Scheme, SignRequest, StandardScheme, TokenScheme, Verifier},
};
use proptest::prelude::*;

const NOW: u64 = 1_767_225_600;

/// One configurable scheme; each knows how to find and alter its signature.
#[derive(Clone, Copy, Debug)]
enum Kind {
    HmacHexPrefix,
    HmacBase64,
    HmacSignedTimestamp,
    StandardBare,
    StandardWhsec,
    TokenBearer,
    TokenQuery,
}

const KINDS: [Kind; 7] = [
    Kind::HmacHexPrefix,
    Kind::HmacBase64,
    Kind::HmacSignedTimestamp,
    Kind::StandardBare,
    Kind::StandardWhsec,
    Kind::TokenBearer,
    Kind::TokenQuery,
];

impl Kind {
    fn scheme(self) -> Scheme {
        match self {
            Kind::HmacHexPrefix => HmacScheme::new("X-Moncreneau-Signature")
                .also_header("X-Webhook-Signature")
                .prefix("sha256=")
                .into(),
            Kind::HmacBase64 => HmacScheme::new("X-Sig").encoding(Encoding::Base64).into(),
            Kind::HmacSignedTimestamp => HmacScheme::new("X-Signature")
                .signed_timestamp("X-Timestamp", Duration::from_secs(120))
                .into(),
            Kind::StandardBare | Kind::StandardWhsec => StandardScheme::new().into(),
            Kind::TokenBearer => TokenScheme::bearer().into(),
            Kind::TokenQuery => TokenScheme::query("token").into(),
        }
    }

    /// Turns random bytes into a secret this scheme accepts.
    fn secret(self, raw: &[u8]) -> Vec<u8> {
        match self {
            Kind::StandardWhsec => format!("whsec_{}", STANDARD.encode(raw)).into_bytes(),
            // Header tokens are printable ASCII without surrounding spaces.
            Kind::TokenBearer => raw.iter().map(|b| b'!' + b % 94).collect(),
            // Base64 without the prefix, decoded all the same.
            Kind::StandardBare => STANDARD.encode(raw).into_bytes(),
            _ => raw.to_vec(),
        }
    }

    /// Flips one bit of the decoded signature (or token) in a signed request.
    fn flip_signature(self, signed: &mut SignedParts, bit: usize) {
        let flip = |bytes: &mut Vec<u8>| {
            let index = (bit / 8) % bytes.len();
            bytes[index] ^= 1 << (bit % 8);
        };
        match self {
            Kind::HmacHexPrefix | Kind::HmacSignedTimestamp => {
                let value = &mut signed.headers[0].1;
                let text = String::from_utf8(value.clone()).expect("ascii");
                let (prefix, hex_part) = match text.strip_prefix("sha256=") {
                    Some(rest) => ("sha256=", rest),
                    None => ("", text.as_str()),
                };
                let mut mac = hex::decode(hex_part).expect("hex");
                flip(&mut mac);
                *value = format!("{prefix}{}", hex::encode(mac)).into_bytes();
            }
            Kind::HmacBase64 => {
                let value = &mut signed.headers[0].1;
                let mut mac = STANDARD.decode(&value[..]).expect("base64");
                flip(&mut mac);
                *value = STANDARD.encode(mac).into_bytes();
            }
            Kind::StandardBare | Kind::StandardWhsec => {
                let value = &mut signed.headers[2].1;
                let mut mac = STANDARD.decode(&value[3..]).expect("v1,base64");
                flip(&mut mac);
                *value = format!("v1,{}", STANDARD.encode(mac)).into_bytes();
            }
            Kind::TokenBearer => {
                let value = &mut signed.headers[0].1;
                let mut token = value[b"Bearer ".len()..].to_vec();
                flip(&mut token);
                *value = [&b"Bearer "[..], &token].concat();
            }
            Kind::TokenQuery => {
                let query = signed.query.as_deref().expect("query");
                let request = Request::post(&NoHeaders, Default::default()).with_query(Some(query));
                let mut token = request.query_param("token").expect("token");
                flip(&mut token);
                signed.query = Some(format!("token={}", percent_encode(&token)));
            }
        }
    }
}

struct SignedParts {
    headers: Vec<(String, Vec<u8>)>,
    query: Option<String>,
}

fn percent_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn sign(verifier: &Verifier, body: &[u8]) -> SignedParts {
    let signed = verifier.sign(body, &SignRequest::at(at(NOW)).with_id("msg_prop"));
    SignedParts {
        headers: signed
            .headers
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect(),
        query: signed.query,
    }
}

fn verify(verifier: &Verifier, req: &SignedParts, body: &[u8]) -> bool {
    let request =
        Request::post(&req.headers, body.to_vec().into()).with_query(req.query.as_deref());
    verifier.verify_at(&request, at(NOW)).is_ok()
}

fn kind() -> impl Strategy<Value = Kind> {
    (0..KINDS.len()).prop_map(|i| KINDS[i])
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        "[ -~]{0,200}".prop_map(String::into_bytes),
        "\\PC{0,100}".prop_map(String::into_bytes),
    ]
}

fn raw_secret() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..80)
}

proptest! {
    #[test]
    fn sign_then_verify_round_trips(kind in kind(), body in body(), raw in raw_secret()) {
        let verifier = Verifier::new(kind.scheme(), [kind.secret(&raw)]).expect("valid");
        let req = sign(&verifier, &body);
        prop_assert!(verify(&verifier, &req, &body), "{kind:?}");
    }

    #[test]
    fn rotation_accepts_any_configured_secret(
        kind in kind(),
        body in body(),
        a in raw_secret(),
        b in raw_secret(),
    ) {
        let (a, b) = (kind.secret(&a), kind.secret(&b));
        let signer = Verifier::new(kind.scheme(), [b.clone()]).expect("valid");
        let receiver = Verifier::new(kind.scheme(), [a, b]).expect("valid");
        prop_assert!(verify(&receiver, &sign(&signer, &body), &body), "{kind:?}");
    }

    #[test]
    fn flipping_a_body_bit_is_rejected(
        kind in kind(),
        body in body(),
        raw in raw_secret(),
        bit in any::<usize>(),
    ) {
        prop_assume!(!body.is_empty());
        // Tokens do not cover the body: only the MAC schemes can notice.
        prop_assume!(!matches!(kind, Kind::TokenBearer | Kind::TokenQuery));
        let verifier = Verifier::new(kind.scheme(), [kind.secret(&raw)]).expect("valid");
        let req = sign(&verifier, &body);
        let mut tampered = body.clone();
        let index = (bit / 8) % tampered.len();
        tampered[index] ^= 1 << (bit % 8);
        prop_assert!(!verify(&verifier, &req, &tampered), "{kind:?}");
    }

    #[test]
    fn flipping_a_signature_bit_is_rejected(
        kind in kind(),
        body in body(),
        raw in raw_secret(),
        bit in any::<usize>(),
    ) {
        let verifier = Verifier::new(kind.scheme(), [kind.secret(&raw)]).expect("valid");
        let mut req = sign(&verifier, &body);
        kind.flip_signature(&mut req, bit);
        prop_assert!(!verify(&verifier, &req, &body), "{kind:?}");
    }

    #[test]
    fn flipping_a_secret_bit_is_rejected(
        kind in kind(),
        body in body(),
        raw in raw_secret(),
        bit in any::<usize>(),
    ) {
        let secret = kind.secret(&raw);
        let signer = Verifier::new(kind.scheme(), [secret.clone()]).expect("valid");
        let req = sign(&signer, &body);
        let mut flipped = secret;
        let index = (bit / 8) % flipped.len();
        flipped[index] ^= 1 << (bit % 8);
        // A flipped secret that the scheme refuses to build with is rejected too.
        if let Ok(receiver) = Verifier::new(kind.scheme(), [flipped]) {
            prop_assert!(!verify(&receiver, &req, &body), "{kind:?}");
        }
    }

    #[test]
    fn unverified_accepts_anything_and_signs_nothing(body in body()) {
        let verifier = Verifier::unverified();
        let signed = verifier.sign(&body, &SignRequest::at(at(NOW)));
        prop_assert!(signed.headers.is_empty() && signed.query.is_none());
        let req = SignedParts { headers: Vec::new(), query: None };
        prop_assert!(verify(&verifier, &req, &body));
    }

    #[test]
    fn arbitrary_headers_are_rejected_without_panic(
        kind in kind(),
        body in body(),
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 3),
        query in "[ -~]{0,60}",
    ) {
        let verifier = Verifier::new(kind.scheme(), [kind.secret(b"k")]).expect("valid");
        let names = [
            "X-Moncreneau-Signature", "X-Webhook-Signature", "X-Sig", "X-Signature",
            "X-Timestamp", "webhook-id", "webhook-timestamp", "webhook-signature",
            "Authorization",
        ];
        let headers: Vec<(String, Vec<u8>)> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), values[i % values.len()].clone()))
            .collect();
        let request = Request::post(&headers, body.into()).with_query(Some(query.as_str()));
        // Never panics, and random values do not verify.
        prop_assert!(verifier.verify_at(&request, at(NOW)).is_err(), "{kind:?}");
    }
}
