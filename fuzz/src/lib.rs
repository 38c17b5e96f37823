//! Input types shared by the fuzz targets.
//!
//! Every input derives `Arbitrary`. Byte strings are [`Blob`]s: a little-endian
//! `u16` length, then that many bytes (fewer when the input runs out), so that
//! `seeds.py` can write seeds from the fixtures by hand. The layout of each
//! input is described next to its type and mirrored in `seeds.py`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::{Arbitrary, Unstructured};
use bookhook::provider::{calendence, decoda, eagenda, moncreneau, orufy, standard};
use bookhook::{Encoding, HmacScheme, Provider, Scheme, Verifier};

/// Raw bytes with a `u16` little-endian length prefix.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Blob<'a>(pub &'a [u8]);

impl<'a> Arbitrary<'a> for Blob<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let len = usize::from(u16::arbitrary(u)?).min(u.len());
        Ok(Blob(u.bytes(len)?))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (2, None)
    }
}

impl Blob<'_> {
    /// The bytes as text, invalid UTF-8 replaced.
    pub fn lossy(&self) -> String {
        String::from_utf8_lossy(self.0).into_owned()
    }
}

impl fmt::Debug for Blob<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// A header name: one of those some scheme or parser reads, or any other.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Name<'a> {
    Authorization,
    CalendenceSignature,
    MoncreneauSignature,
    WebhookSignatureSdk,
    MoncreneauEvent,
    DecodaSignature,
    Signature,
    Timestamp,
    WebhookId,
    WebhookTimestamp,
    WebhookSignature,
    SvixId,
    SvixTimestamp,
    SvixSignature,
    ContentType,
    Other(Blob<'a>),
}

impl Name<'_> {
    fn text(&self) -> String {
        match self {
            Name::Authorization => "Authorization".into(),
            Name::CalendenceSignature => calendence::SIGNATURE_HEADER.into(),
            Name::MoncreneauSignature => moncreneau::SIGNATURE_HEADER.into(),
            Name::WebhookSignatureSdk => moncreneau::SDK_SIGNATURE_HEADER.into(),
            Name::MoncreneauEvent => moncreneau::EVENT_HEADER.into(),
            Name::DecodaSignature => decoda::SIGNATURE_HEADER.into(),
            Name::Signature => eagenda::SIGNATURE_HEADER.into(),
            Name::Timestamp => eagenda::TIMESTAMP_HEADER.into(),
            Name::WebhookId => bookhook::WEBHOOK_ID.into(),
            Name::WebhookTimestamp => bookhook::WEBHOOK_TIMESTAMP.into(),
            Name::WebhookSignature => bookhook::WEBHOOK_SIGNATURE.into(),
            Name::SvixId => bookhook::SVIX_ID.into(),
            Name::SvixTimestamp => bookhook::SVIX_TIMESTAMP.into(),
            Name::SvixSignature => bookhook::SVIX_SIGNATURE.into(),
            Name::ContentType => "Content-Type".into(),
            Name::Other(blob) => blob.lossy(),
        }
    }
}

/// One header: name, whether to upper-case the name, value.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Header<'a> {
    pub name: Name<'a>,
    pub upper: bool,
    pub value: Blob<'a>,
}

/// The headers as `(name, value)` pairs, which implement `bookhook::Headers`.
pub fn header_pairs<'a>(headers: &[Header<'a>]) -> Vec<(String, &'a [u8])> {
    headers
        .iter()
        .map(|header| {
            let mut name = header.name.text();
            if header.upper {
                name.make_ascii_uppercase();
            }
            (name, header.value.0)
        })
        .collect()
}

/// A query string from raw bytes (invalid UTF-8 replaced).
pub fn query_text(query: Option<Blob<'_>>) -> Option<String> {
    query.map(|q| q.lossy())
}

/// A time from milliseconds since the epoch, kept below 10^11 seconds (the
/// largest timestamp the schemes read has 12 digits, the year 5138 has 11).
pub fn time_from_ms(ms: u64) -> SystemTime {
    let secs = (ms / 1000) % 100_000_000_000;
    let nanos = u32::try_from(ms % 1000).unwrap_or(0) * 1_000_000;
    UNIX_EPOCH + Duration::new(secs, nanos)
}

/// A provider's scheme, as preset by the library (and two variants).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// `Authorization: Bearer`.
    Eagenda,
    /// Hex HMAC of body ‖ `X-Timestamp`, 120 s.
    EagendaHmac,
    Moncreneau,
    /// Bearer header or `token` query parameter.
    Orufy,
    Calendence,
    Decoda,
    /// Decoda with `python_json_compat(true)`.
    DecodaPythonJson,
    Standard,
    /// Base64 HMAC of body ‖ `X-Timestamp`, 300 s, `v1=` prefix.
    HmacBase64Timestamp,
}

impl Preset {
    /// The scheme.
    pub fn scheme(self) -> Scheme {
        match self {
            Preset::Eagenda => eagenda::scheme().into(),
            Preset::EagendaHmac => eagenda::hmac_scheme().into(),
            Preset::Moncreneau => moncreneau::scheme().into(),
            Preset::Orufy => orufy::scheme().into(),
            Preset::Calendence => calendence::scheme().into(),
            Preset::Decoda => decoda::scheme().into(),
            Preset::DecodaPythonJson => decoda::scheme().python_json_compat(true).into(),
            Preset::Standard => standard::scheme().into(),
            Preset::HmacBase64Timestamp => HmacScheme::new("X-Signature")
                .prefix("v1=")
                .encoding(Encoding::Base64)
                .signed_timestamp("X-Timestamp", Duration::from_secs(300))
                .into(),
        }
    }

    /// The secret used when the input gives none (the fixtures' secret).
    pub fn secret(self) -> &'static str {
        match self {
            Preset::Eagenda | Preset::Orufy => "orufy-shared-token-7",
            Preset::EagendaHmac => "eagenda-access-secret",
            Preset::Moncreneau => "whsec_mcTestSecret42",
            Preset::Calendence => "cal_test_secret",
            Preset::Decoda | Preset::DecodaPythonJson => "decoda-webhook-secret",
            Preset::Standard => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            Preset::HmacBase64Timestamp => "base64-secret",
        }
    }

    /// Whether the MAC covers the body (token schemes do not).
    pub fn signs_body(self) -> bool {
        !matches!(self, Preset::Eagenda | Preset::Orufy)
    }

    /// A verifier with `extra` first (when the scheme accepts it as a
    /// secret) and the preset's secret second.
    pub fn verifier(self, extra: Option<Blob<'_>>) -> Verifier {
        if let Some(extra) = extra {
            let secrets = vec![extra.0.to_vec(), self.secret().as_bytes().to_vec()];
            if let Ok(verifier) = Verifier::new(self.scheme(), secrets) {
                return verifier;
            }
        }
        Verifier::new(self.scheme(), [self.secret()]).expect("preset secrets are valid")
    }
}

/// One of the core's providers, chosen as `#[derive(Arbitrary)]` chooses an
/// enum variant (a `u32`, scaled to the number of providers), so that the
/// seeds written by `seeds.py` pick the same provider as before. The choices
/// are [`Provider::ALL`]: a new provider is fuzzed without a change here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderChoice(Provider);

impl<'a> Arbitrary<'a> for ProviderChoice {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let count = Provider::ALL.len() as u64;
        let index = (u64::from(u32::arbitrary(u)?) * count) >> 32;
        Ok(ProviderChoice(Provider::ALL[index as usize]))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (4, Some(4))
    }
}

impl ProviderChoice {
    /// The provider.
    pub fn provider(self) -> Provider {
        self.0
    }
}
