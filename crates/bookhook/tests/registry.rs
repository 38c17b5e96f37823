//! The provider registry is the only list of providers: everything that
//! enumerates them is derived from it, and no other source file names them
//! all by hand.

use std::path::{Path, PathBuf};

use bookhook::Provider;

/// The workspace's root, two levels above this crate.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate sits in crates/")
        .to_path_buf()
}

/// The variant name of a provider: its name with a capital first letter.
fn variant(provider: Provider) -> String {
    let name = provider.as_str();
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a readable directory").path();
        if path.is_dir() {
            sources(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The identifiers written right after a `::` in `text`.
fn path_segments(text: &str) -> impl Iterator<Item = &str> {
    text.split("::").skip(1).map(|rest| {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        &rest[..end]
    })
}

/// The code of a source file that ships: without comments (examples in docs
/// name providers one at a time) and without its unit tests.
fn code_of(text: &str) -> String {
    let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
    shipped
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_provider_has_a_description_and_a_module_named_after_it() {
    let root = workspace().join("crates/bookhook/src/provider");
    for provider in Provider::ALL {
        let module = root.join(format!("{}.rs", provider.as_str()));
        assert!(module.is_file(), "{provider}: no {}", module.display());
        let description = provider.description();
        assert!(!description.summary.is_empty(), "{provider}");
        assert_eq!(provider.as_str().parse::<Provider>(), Ok(provider));
    }
}

#[cfg(feature = "testing")]
#[test]
fn the_top_level_event_has_one_variant_per_provider() {
    // Each provider's own parse, wrapped by `Event`, says which provider it is.
    for provider in Provider::ALL {
        let body = bookhook::testing::samples::SAMPLES
            .iter()
            .find(|s| s.provider == provider)
            .map_or(r#"{"type":"x","id":"e-1"}"#, |s| s.payload);
        let headers = [("webhook-id", "msg_1")];
        let delivery = bookhook::Delivery::parse(provider, &headers, body.into())
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        let event: &bookhook::Event = delivery.event();
        assert_eq!(event.provider(), provider);
    }
}

#[test]
fn no_source_outside_the_provider_folder_names_every_provider() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in ["crates", "fuzz/src", "fuzz/fuzz_targets"] {
        sources(&root.join(dir), &mut files);
    }
    let variants: Vec<String> = Provider::ALL.into_iter().map(variant).collect();
    let provider_folder = root.join("crates/bookhook/src/provider");
    let mut listings = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&root).unwrap_or(&file);
        let relative_text = relative.to_string_lossy().replace('\\', "/");
        if file.starts_with(&provider_folder) || relative_text.contains("/target/") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        let code = code_of(&text);
        let named: Vec<&str> = path_segments(&code).collect();
        if variants.iter().all(|v| named.contains(&v.as_str())) {
            listings.push(relative_text);
        }
    }
    assert!(
        listings.is_empty(),
        "these files name every provider by hand; derive from the registry \
         (`Provider::ALL`, `Provider::description`) instead: {listings:?}"
    );
}
