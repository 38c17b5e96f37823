//! `send` and `inbox replay --to` over `https://`: a TLS server on 127.0.0.1
//! with a certificate made here, in front of a real `bookhook listen` that
//! verifies what arrives. The client trusts it through `SSL_CERT_FILE`.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::inbox::{SECRET, recorded, send_command};
use support::{Listener, TempDir, bookhook, run, stderr, stdout};
use tokio_rustls::rustls;

/// A certificate authority and a server certificate for 127.0.0.1 that it signed.
struct Pki {
    ca_pem: String,
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
}

fn make_pki(name: &str) -> Pki {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().expect("a ca key");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("a ca certificate");

    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("server certificate params");
    let key = rcgen::KeyPair::generate().expect("a server key");
    let cert = params.signed_by(&key, &ca).expect("a server certificate");
    Pki {
        ca_pem: ca.pem(),
        cert: cert.der().clone(),
        key: rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    }
}

/// A TLS server on 127.0.0.1 that hands each connection, decrypted, to a
/// plain `http://` receiver. Counts the handshakes that succeeded.
struct TlsFront {
    addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    /// Runs the accept loop and the connections; they end with it.
    _runtime: tokio::runtime::Runtime,
}

impl TlsFront {
    fn start(pki: &Pki, backend: &str) -> Self {
        let backend = backend
            .trim_start_matches("http://")
            .split('/')
            .next()
            .expect("host:port")
            .to_owned();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("tls versions")
            .with_no_client_auth()
            .with_single_cert(vec![pki.cert.clone()], pki.key.clone_key())
            .expect("a server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&handshakes);
        runtime.spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let backend = backend.clone();
                let counted = Arc::clone(&counted);
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake here.
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    counted.fetch_add(1, Ordering::SeqCst);
                    let Ok(mut plain) = tokio::net::TcpStream::connect(backend.as_str()).await
                    else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Self {
            addr,
            handshakes,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("https://{}/webhook", self.addr)
    }

    fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

/// `command` trusting only the roots in `ca_pem`.
fn trusting(mut command: Command, dir: &TempDir, ca_pem: &str) -> Command {
    let file = dir.file("ca.pem", ca_pem.as_bytes());
    command
        .env("SSL_CERT_FILE", file)
        .env_remove("SSL_CERT_DIR");
    command
}

/// A `bookhook listen` for Calendence behind a [`TlsFront`] with a fresh
/// certificate.
fn receiver_behind_tls() -> (Pki, Listener, TlsFront) {
    let pki = make_pki("bookhook test ca");
    let receiver = Listener::start(&["--provider", "calendence", "--secret", SECRET]);
    let front = TlsFront::start(&pki, &receiver.url);
    (pki, receiver, front)
}

#[test]
fn send_delivers_over_https_to_a_receiver_that_verifies_it() {
    let dir = TempDir::new("https-send");
    let (pki, receiver, front) = receiver_behind_tls();

    let output = run(trusting(send_command(&front.url()), &dir, &pki.ca_pem), b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let line = stdout(&output);
    assert!(line.starts_with("200 booking.created "), "{line}");
    let key = line.trim().rsplit(' ').next().expect("a key").to_owned();

    let received = receiver.next_line();
    assert_eq!(received["outcome"], "handled", "{received}");
    assert_eq!(received["key"], key.as_str());
    assert_eq!(front.handshakes(), 1);
}

#[test]
fn replay_to_an_https_url_redelivers_each_event_verified_with_the_new_secret() {
    let dir = TempDir::new("https-replay");
    let pki = make_pki("bookhook test ca");
    let inbox = format!("sqlite:{}", dir.0.join("inbox.db").display());
    let (_recorder, keys) = recorded(&inbox, 2);

    let local = Listener::start(&["--provider", "calendence", "--secret", "local-secret"]);
    let front = TlsFront::start(&pki, &local.url);
    let mut command = bookhook();
    command.args(["inbox", "replay", "--inbox", &inbox, "--state", "done"]);
    command.args(["--to", &front.url(), "--secret", "local-secret"]);
    let output = run(trusting(command, &dir, &pki.ca_pem), b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let expected: Vec<String> = keys
        .iter()
        .map(|key| format!("200 booking.created {key}"))
        .collect();
    assert_eq!(stdout(&output).lines().collect::<Vec<_>>(), expected);
    for key in &keys {
        let delivered = local.next_line();
        assert_eq!(delivered["outcome"], "handled", "{delivered}");
        assert_eq!(delivered["key"], key.as_str());
    }
    assert!(front.handshakes() >= 1);
}

#[test]
fn an_untrusted_certificate_is_refused_with_one_clear_line() {
    let dir = TempDir::new("https-untrusted");
    let (pki, receiver, front) = receiver_behind_tls();
    // Another authority than the one that signed the server's certificate.
    let other = make_pki("another test ca").ca_pem;

    let output = run(trusting(send_command(&front.url()), &dir, &other), b"");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "one error line and the count: {err}");
    let expected = format!("tls handshake with {} failed: ", front.url());
    assert!(lines[0].starts_with("error: booking.created "), "{err}");
    assert!(lines[0].contains(&expected), "{err}");
    assert!(lines[0].contains("SSL_CERT_FILE"), "{err}");
    assert_eq!(lines[1], "1 of 1 requests did not get a 2xx response");
    // Nothing reached the receiver.
    assert_eq!(
        receiver.line_within(std::time::Duration::from_millis(300)),
        None
    );
    assert_eq!(front.handshakes(), 0);

    // https:// to a port that speaks plain http: a handshake failure too.
    let plain = receiver.url.replace("http://", "https://");
    let output = run(trusting(send_command(&plain), &dir, &pki.ca_pem), b"");
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains(&format!("tls handshake with {plain} failed: ")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
}
