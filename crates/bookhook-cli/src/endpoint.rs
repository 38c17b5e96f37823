//! From `--provider` and `--secret` (and the hmac options) to a core
//! [`Endpoint`]: the one place where the command line meets the core's
//! configuration. Every subcommand signs, verifies and parses through it.

use bookhook::{
    Endpoint, Provider,
    endpoint::EndpointBuilder,
    signature::{Encoding, HmacScheme},
};

use crate::cli::{EncodingName, ProviderArgs};
use crate::error::CliError;

impl ProviderArgs {
    /// The core's provider.
    pub(crate) fn provider(&self) -> Provider {
        self.provider.provider()
    }

    /// A builder with the provider's scheme and the secrets, to which a
    /// subcommand adds its own settings (clock, store, body limit).
    pub(crate) fn builder(&self) -> Result<EndpointBuilder, CliError> {
        let mut builder = Endpoint::builder(self.provider());
        if self.provider() == Provider::Hmac {
            let header = self.header.as_deref().ok_or_else(|| {
                CliError::usage("--provider hmac needs --header NAME (the signature header)")
            })?;
            let mut scheme = HmacScheme::new(header);
            if let Some(prefix) = &self.prefix {
                scheme = scheme.prefix(prefix.as_str());
            }
            if let Some(encoding) = self.encoding {
                scheme = scheme.encoding(match encoding {
                    EncodingName::Hex => Encoding::Hex,
                    EncodingName::Base64 => Encoding::Base64,
                });
            }
            builder = builder.scheme(scheme);
            if let Some(type_header) = &self.type_header {
                builder = builder.type_header(type_header.as_str());
            }
        } else {
            let given = [
                ("--header", self.header.is_some()),
                ("--prefix", self.prefix.is_some()),
                ("--encoding", self.encoding.is_some()),
                ("--type-header", self.type_header.is_some()),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
                return Err(CliError::usage(format!(
                    "{flag} only applies to --provider hmac; {} uses its own preset",
                    self.provider().as_str()
                )));
            }
        }
        Ok(builder.secrets(self.secrets.iter().map(String::as_str)))
    }

    /// The endpoint with the defaults of the core.
    pub(crate) fn endpoint(&self) -> Result<Endpoint, CliError> {
        build(self.builder()?)
    }
}

/// Builds an endpoint; a configuration the core refuses is a usage error.
pub(crate) fn build(builder: EndpointBuilder) -> Result<Endpoint, CliError> {
    builder
        .build()
        .map_err(|err| CliError::usage(format!("invalid configuration: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ProviderName;

    fn args(provider: Provider) -> ProviderArgs {
        ProviderArgs {
            provider: ProviderName::of(provider).unwrap(),
            secrets: vec!["s3cr3t".into()],
            header: None,
            prefix: None,
            encoding: None,
            type_header: None,
        }
    }

    #[test]
    fn every_preset_builds_with_a_secret() {
        // Every preset but Standard Webhooks takes any text as its secret.
        let presets = Provider::ALL
            .into_iter()
            .filter(|p| !matches!(p, Provider::Standard | Provider::Hmac));
        for provider in presets {
            let endpoint = args(provider).endpoint().unwrap();
            assert_eq!(endpoint.provider(), provider);
        }
        // A Standard Webhooks secret is base64, with or without `whsec_`.
        for secret in ["whsec_czNjcjN0", "czNjcjN0"] {
            let mut standard = args(Provider::Standard);
            standard.secrets = vec![secret.into()];
            let endpoint = standard.endpoint().unwrap();
            assert_eq!(endpoint.provider(), bookhook::Provider::Standard);
        }
    }

    #[test]
    fn standard_secret_that_is_not_base64_is_a_usage_error_naming_the_cause() {
        let mut standard = args(Provider::Standard);
        standard.secrets = vec!["not base64!".into()];
        match standard.endpoint() {
            Err(CliError::Usage(message)) => {
                assert!(message.contains("not valid base64"), "{message}");
                assert!(!message.contains("not base64!"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn hmac_needs_a_header() {
        assert!(matches!(
            args(Provider::Hmac).endpoint(),
            Err(CliError::Usage(_))
        ));
        let mut hmac = args(Provider::Hmac);
        hmac.header = Some("X-Sig".into());
        hmac.prefix = Some("sha256=".into());
        hmac.encoding = Some(EncodingName::Base64);
        let endpoint = hmac.endpoint().unwrap();
        let signed = endpoint.sign(b"{}", &bookhook::signature::SignRequest::now());
        assert!(signed.header("x-sig").unwrap().starts_with("sha256="));
    }

    #[test]
    fn hmac_options_are_refused_for_presets() {
        let mut calendence = args(Provider::Calendence);
        calendence.prefix = Some("v1=".into());
        assert!(matches!(calendence.endpoint(), Err(CliError::Usage(_))));
        let mut decoda = args(Provider::Decoda);
        decoda.type_header = Some("X-GitHub-Event".into());
        assert!(matches!(decoda.endpoint(), Err(CliError::Usage(_))));
    }

    #[test]
    fn hmac_reads_the_event_type_from_the_type_header() {
        let mut github = args(Provider::Hmac);
        github.header = Some("X-Hub-Signature-256".into());
        github.prefix = Some("sha256=".into());
        github.type_header = Some("X-GitHub-Event".into());
        let endpoint = github.endpoint().unwrap();
        let body = br#"{"zen":"Approachable is better than simple.","hook_id":1}"#;
        let mut headers = endpoint
            .sign(body, &bookhook::signature::SignRequest::now())
            .headers;
        headers.push(("X-GitHub-Event".into(), "ping".into()));
        let delivery = endpoint
            .verify_and_parse(&bookhook::endpoint::Request::post(
                &headers,
                body.to_vec().into(),
            ))
            .unwrap();
        assert_eq!(delivery.event_type(), "ping");
        let mut bad_name = github;
        bad_name.type_header = Some("bad header".into());
        assert!(matches!(bad_name.endpoint(), Err(CliError::Usage(_))));
    }

    #[test]
    fn bad_configuration_is_a_usage_error() {
        let mut empty = args(Provider::Calendence);
        empty.secrets = vec![String::new()];
        assert!(matches!(empty.endpoint(), Err(CliError::Usage(_))));
        let mut bad_header = args(Provider::Hmac);
        bad_header.header = Some("bad header".into());
        assert!(matches!(bad_header.endpoint(), Err(CliError::Usage(_))));
    }
}
