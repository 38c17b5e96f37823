//! Constant time: every comparison of secret-derived bytes goes through `subtle`.
//!
//! # The rule
//!
//! In the verification code (`src/signature/` and `src/secret.rs`, outside
//! their `#[cfg(test)]` modules), a value whose name says it is a MAC, a
//! signature, a tag, a token, a digest, a secret or an expected value is
//! never compared with `==`, `!=`, `.eq(`, `.ne(` or `.contains(`. Compare
//! such bytes with `subtle::ConstantTimeEq::ct_eq` and fold the results into a
//! `subtle::Choice`. Comparing a length (`x.len() == MAC_LEN * 2`) is
//! allowed: a length is not secret.
//!
//! Clippy cannot enforce this: `disallowed-methods` sees method calls only.
//! Banning `core::cmp::PartialEq::eq` there flags `mac.eq(&other)` but not
//! `mac == other` on arrays, slices or vectors (and would flag every `.eq()`
//! in the workspace). So this test reads the sources and refuses such
//! comparisons by name. It is a tripwire for the obvious
//! mistake (`expected == signature`), not a proof: keep the names honest.

/// The sources checked, with their paths for messages.
const SOURCES: [(&str, &str); 7] = [
    (
        "src/signature/mod.rs",
        include_str!("../src/signature/mod.rs"),
    ),
    (
        "src/signature/encoding.rs",
        include_str!("../src/signature/encoding.rs"),
    ),
    (
        "src/signature/hmac_sha256.rs",
        include_str!("../src/signature/hmac_sha256.rs"),
    ),
    (
        "src/signature/standard.rs",
        include_str!("../src/signature/standard.rs"),
    ),
    (
        "src/signature/token.rs",
        include_str!("../src/signature/token.rs"),
    ),
    (
        "src/signature/python_json.rs",
        include_str!("../src/signature/python_json.rs"),
    ),
    ("src/secret.rs", include_str!("../src/secret.rs")),
];

/// Words that mark a name as secret-derived (a trailing `s` is ignored).
const SECRET_WORDS: [&str; 10] = [
    "mac",
    "hmac",
    "tag",
    "sig",
    "signature",
    "token",
    "digest",
    "secret",
    "expected",
    "candidate",
];

/// Comparison operators and methods that are not constant time.
const OPERATORS: [&str; 2] = ["==", "!="];
const METHODS: [&str; 3] = [".eq(", ".ne(", ".contains("];

/// Whether an identifier-ish text names secret-derived bytes.
fn is_secret_name(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .any(|word| {
            let word = word.to_ascii_lowercase();
            let singular = word.strip_suffix('s').unwrap_or(&word);
            SECRET_WORDS.contains(&word.as_str()) || SECRET_WORDS.contains(&singular)
        })
}

/// The operand written just before byte `at` of `line`: the last
/// whitespace-separated token, without leading `(`, `&`, `*` or `!`.
fn operand_before(line: &str, at: usize) -> &str {
    let head = line.get(..at).unwrap_or("").trim_end();
    let start = head.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    head.get(start..)
        .unwrap_or("")
        .trim_start_matches(['(', '&', '*', '!'])
}

/// The operand written just after byte `at` of `line`.
fn operand_after(line: &str, at: usize) -> &str {
    let tail = line.get(at..).unwrap_or("").trim_start();
    let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
    tail.get(..end)
        .unwrap_or("")
        .trim_start_matches(['&', '*'])
        .trim_end_matches([')', ',', ';', '{'])
}

/// A length or emptiness is not secret (a closing parenthesis may have been
/// trimmed off with the end of the expression).
fn is_length(operand: &str) -> bool {
    [".len()", ".is_empty()"]
        .iter()
        .any(|call| operand.ends_with(call) || operand.ends_with(&call[..call.len() - 1]))
}

/// The code of `source` that ships: everything before its test module, with
/// comments removed.
fn production_lines(source: &str) -> impl Iterator<Item = (usize, &str)> {
    let end = source.find("#[cfg(test)]").unwrap_or(source.len());
    source
        .get(..end)
        .unwrap_or("")
        .lines()
        .enumerate()
        .map(|(index, line)| {
            let code = match line.find("//") {
                Some(comment) => line.get(..comment).unwrap_or(""),
                None => line,
            };
            (index + 1, code)
        })
        .filter(|(_, code)| !code.trim().is_empty())
}

/// Every non-constant-time comparison of a secret-derived name in `source`,
/// as `line: code`.
fn violations(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (number, line) in production_lines(source) {
        let mut flagged = false;
        for operator in OPERATORS {
            for (at, _) in line.match_indices(operator) {
                let left = operand_before(line, at);
                let right = operand_after(line, at + operator.len());
                // One side is a number or a flag: no bytes are compared.
                if is_length(left) || is_length(right) {
                    continue;
                }
                flagged |= is_secret_name(left) || is_secret_name(right);
            }
        }
        for method in METHODS {
            for (at, _) in line.match_indices(method) {
                let receiver = operand_before(line, at + 1);
                let argument = operand_after(line, at + method.len());
                flagged |= is_secret_name(receiver) || is_secret_name(argument);
            }
        }
        if flagged {
            found.push(format!("{number}: {}", line.trim()));
        }
    }
    found
}

#[test]
fn secret_derived_bytes_are_compared_only_with_subtle() {
    let mut report = Vec::new();
    for (path, source) in SOURCES {
        for violation in violations(source) {
            report.push(format!("{path}:{violation}"));
        }
    }
    assert!(
        report.is_empty(),
        "compare MACs, signatures and tokens with subtle::ConstantTimeEq, not ==:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_verification_code_does_use_subtle() {
    for path in [
        "src/signature/hmac_sha256.rs",
        "src/signature/standard.rs",
        "src/signature/token.rs",
        "src/secret.rs",
    ] {
        let source = SOURCES
            .iter()
            .find(|(name, _)| *name == path)
            .map(|(_, source)| *source)
            .unwrap_or_default();
        assert!(
            production_lines(source).any(|(_, line)| line.contains(".ct_eq(")),
            "{path} compares with ct_eq"
        );
    }
}

#[test]
fn the_check_catches_variable_time_comparisons() {
    let bad = [
        "    if expected == signature {",
        "    let ok = mac != sig;",
        "    return computed_mac.eq(&received);",
        "    if !found.contains(&mac) {",
        "    digests.iter().any(|d| *d == candidate)",
        "    token.ne(other)",
        "    secret.expose() == value",
    ];
    for line in bad {
        assert_eq!(violations(line).len(), 1, "not caught: {line}");
    }
}

#[test]
fn the_check_allows_constant_time_and_unrelated_comparisons() {
    let good = [
        "    acc | expected.ct_eq(sig)",
        "    if word.len() == prefix.len() {",
        "    if text.len() != MAC_LEN * 2 {",
        "    token.iter().all(|b| (0x20..0x7f).contains(b)) && token.trim_ascii().len() == token.len()",
        "    .split(|b| *b == b' ')",
        "    if body != req.body() && matches_any(keys, &signatures, &body, timestamp) {",
        "    // a comment: expected == signature",
        "    .any(|name| req.headers().lookup(name) != HeaderLookup::Missing)",
    ];
    for line in good {
        assert!(violations(line).is_empty(), "wrongly flagged: {line}");
    }
    let with_tests = "fn f() {}\n#[cfg(test)]\nmod tests {\n    assert!(mac == sig);\n}\n";
    assert!(violations(with_tests).is_empty(), "test modules are exempt");
}
