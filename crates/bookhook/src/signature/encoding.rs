//! How a MAC is written into a header: hex or base64.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::VerifyError;

/// The length of an HMAC-SHA256 output, in bytes.
pub(crate) const MAC_LEN: usize = 32;

/// The longest signature header value examined; longer values are refused
/// before any decoding or MAC work.
pub(crate) const MAX_SIGNATURE_HEADER: usize = 8 * 1024;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_encode_padding(true)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);

/// Standard alphabet, padding optional on decode, emitted on encode.
pub(crate) const BASE64_STANDARD: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
/// URL-safe alphabet, padding optional on decode.
const BASE64_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// How the MAC bytes are written in the signature header.
///
/// Decoding is lenient where it costs no security: hex accepts upper and lower
/// case, base64 accepts the standard and the URL-safe alphabets, with or without
/// padding. Signing always writes lower-case hex or padded standard base64.
///
/// ```
/// use bookhook::{endpoint::Request, signature::{Encoding, HmacScheme, SignRequest, Verifier}};
///
/// let scheme = HmacScheme::new("X-Signature").encoding(Encoding::Base64);
/// let verifier = Verifier::new(scheme, ["s3cret"])?;
/// let signed = verifier.sign(b"{}", &SignRequest::now());
/// let padded = signed.headers[0].1.clone();
/// assert_eq!(padded.len(), 44);
///
/// // The same MAC without padding is accepted too.
/// let unpadded = [("X-Signature", padded.trim_end_matches('='))];
/// verifier.verify(&Request::post(&unpadded, b"{}".as_slice().into()))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Hexadecimal, 64 characters for HMAC-SHA256 (the default).
    #[default]
    Hex,
    /// Base64, 44 characters with padding or 43 without.
    Base64,
}

impl Encoding {
    /// Writes `bytes` in this encoding.
    pub(crate) fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => BASE64_STANDARD.encode(bytes),
        }
    }

    /// Reads a 32-byte MAC written in this encoding.
    pub(crate) fn decode_mac(self, text: &[u8]) -> Result<[u8; MAC_LEN], VerifyError> {
        match self {
            Encoding::Hex => decode_hex_mac(text),
            Encoding::Base64 => decode_base64_mac(text),
        }
    }
}

fn malformed(reason: &'static str) -> VerifyError {
    VerifyError::MalformedSignature { reason }
}

/// Marks a byte that is not a hex digit in [`HEX_VALUES`].
const NOT_HEX: u8 = 0x10;

/// The value of each hex digit (either case), [`NOT_HEX`] for any other byte.
const HEX_VALUES: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut digit = 0;
    while digit < 10 {
        table[b'0' as usize + digit] = digit as u8;
        digit += 1;
    }
    let mut letter = 0;
    while letter < 6 {
        table[b'a' as usize + letter] = 10 + letter as u8;
        table[b'A' as usize + letter] = 10 + letter as u8;
        letter += 1;
    }
    table
};

/// Decodes 64 hex digits with one table lookup per digit and no branch per
/// digit: an invalid digit sets a bit that is checked once at the end.
fn decode_hex_mac(text: &[u8]) -> Result<[u8; MAC_LEN], VerifyError> {
    // Any byte that is not a hex digit is reported before a wrong length.
    let invalid = text
        .iter()
        .fold(0, |seen, &byte| seen | HEX_VALUES[usize::from(byte)]);
    if invalid & NOT_HEX != 0 {
        return Err(malformed("invalid hex"));
    }
    if text.len() != MAC_LEN * 2 {
        return Err(malformed("signature is not 32 bytes long"));
    }
    let mut out = [0u8; MAC_LEN];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = (HEX_VALUES[usize::from(pair[0])] << 4) | HEX_VALUES[usize::from(pair[1])];
    }
    Ok(out)
}

/// Decodes base64 in either alphabet, padding optional, and checks the length.
pub(crate) fn decode_base64_mac(text: &[u8]) -> Result<[u8; MAC_LEN], VerifyError> {
    let decoded = decode_base64_lenient(text).ok_or(malformed("invalid base64"))?;
    <[u8; MAC_LEN]>::try_from(decoded.as_slice())
        .map_err(|_| malformed("signature is not 32 bytes long"))
}

/// Decodes base64 in the standard or the URL-safe alphabet, padding optional.
pub(crate) fn decode_base64_lenient(text: &[u8]) -> Option<Vec<u8>> {
    BASE64_STANDARD
        .decode(text)
        .or_else(|_| BASE64_URL_SAFE.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BYTES: [u8; MAC_LEN] = [
        0xfb, 0xff, 0x00, 0x3e, 0x3f, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0,
        0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
        0x0b, 0xfe,
    ];

    #[test]
    fn hex_round_trips_and_accepts_upper_case() {
        let text = Encoding::Hex.encode(&BYTES);
        assert_eq!(text, text.to_lowercase());
        assert_eq!(Encoding::Hex.decode_mac(text.as_bytes()), Ok(BYTES));
        let upper = text.to_uppercase();
        assert_eq!(Encoding::Hex.decode_mac(upper.as_bytes()), Ok(BYTES));
    }

    #[test]
    fn hex_table_agrees_with_the_hex_crate_on_every_byte() {
        for byte in 0..=u8::MAX {
            let ours = HEX_VALUES[usize::from(byte)];
            let text = [b'0', byte];
            let mut theirs = [0u8; 1];
            match hex::decode_to_slice(text, &mut theirs) {
                Ok(()) => assert_eq!(ours, theirs[0] & 0x0f, "{byte:#04x}"),
                Err(_) => assert_eq!(ours, NOT_HEX, "{byte:#04x}"),
            }
        }
    }

    #[test]
    fn hex_mac_errors_name_bad_digits_before_bad_length() {
        let good = Encoding::Hex.encode(&BYTES);
        let mut bad_digit = good.clone().into_bytes();
        bad_digit[63] = b'g';
        assert_eq!(
            Encoding::Hex.decode_mac(&bad_digit),
            Err(malformed("invalid hex"))
        );
        assert_eq!(
            Encoding::Hex.decode_mac(b"zz"),
            Err(malformed("invalid hex"))
        );
        assert_eq!(
            Encoding::Hex.decode_mac(&good.as_bytes()[..62]),
            Err(malformed("signature is not 32 bytes long"))
        );
        assert_eq!(
            Encoding::Hex.decode_mac(format!("{good}00").as_bytes()),
            Err(malformed("signature is not 32 bytes long"))
        );
        // Every single-digit change decodes to a different MAC.
        for index in 0..64 {
            let mut changed = good.clone().into_bytes();
            changed[index] = if changed[index] == b'0' { b'1' } else { b'0' };
            assert_ne!(
                Encoding::Hex.decode_mac(&changed),
                Ok(BYTES),
                "digit {index}"
            );
        }
    }

    #[test]
    fn base64_accepts_padding_or_not_and_url_safe() {
        let padded = Encoding::Base64.encode(&BYTES);
        assert!(padded.ends_with('='));
        assert!(padded.contains('+') || padded.contains('/'));
        assert_eq!(Encoding::Base64.decode_mac(padded.as_bytes()), Ok(BYTES));
        let bare = padded.trim_end_matches('=');
        assert_eq!(Encoding::Base64.decode_mac(bare.as_bytes()), Ok(BYTES));
        let url = padded.replace('+', "-").replace('/', "_");
        assert_eq!(Encoding::Base64.decode_mac(url.as_bytes()), Ok(BYTES));
    }

    #[test]
    fn rejects_bad_hex() {
        let mut text = Encoding::Hex.encode(&BYTES).into_bytes();
        text[3] = b'g';
        assert_eq!(
            Encoding::Hex.decode_mac(&text),
            Err(malformed("invalid hex"))
        );
    }

    #[test]
    fn rejects_wrong_length() {
        let short = Encoding::Hex.encode(&BYTES[..31]);
        assert_eq!(
            Encoding::Hex.decode_mac(short.as_bytes()),
            Err(malformed("signature is not 32 bytes long"))
        );
        let long = Encoding::Base64.encode(&[0u8; 33]);
        assert_eq!(
            Encoding::Base64.decode_mac(long.as_bytes()),
            Err(malformed("signature is not 32 bytes long"))
        );
        assert_eq!(
            Encoding::Hex.decode_mac(b""),
            Err(malformed("signature is not 32 bytes long"))
        );
    }

    #[test]
    fn rejects_bad_base64() {
        assert_eq!(
            Encoding::Base64.decode_mac(b"not*base64!"),
            Err(malformed("invalid base64"))
        );
    }
}
