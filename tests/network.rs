//! HTTPS through private certificate authorities and proxies, for real: a test CA and a
//! server certificate made here (rcgen), an HTTPS front (tokio-rustls) over the local test
//! server, and a CONNECT proxy that records where it was asked to go. `clerk ask` runs
//! against them as a process, with a profile's `ca_file` / `proxy`, `SSL_CERT_FILE`,
//! `HTTPS_PROXY` and `NO_PROXY`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use support::env::{Env, err, out};

/// A certificate authority made for one test.
struct TestCa {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn test_ca(name: &str) -> TestCa {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    TestCa {
        pem: cert.pem(),
        issuer: rcgen::Issuer::new(params, key),
    }
}

/// An HTTPS front for `backend` on 127.0.0.1, with a certificate for `localhost` signed by
/// `ca`: every connection is decrypted and relayed to the plain test server.
fn https_front(ca: &TestCa, backend: SocketAddr) -> SocketAddr {
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let der = cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![der], key_der)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that does not trust the certificate ends the handshake.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    });
    addr
}

/// A CONNECT proxy on 127.0.0.1 that records each request line it gets.
fn connect_proxy() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let line = head.lines().next().unwrap_or_default().to_string();
                log.lock().unwrap().push(line.clone());
                let mut parts = line.split_whitespace();
                let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
                    let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
                    return;
                };
                let Ok(upstream) = TcpStream::connect(target) else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                    return;
                };
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let (mut c1, mut u1) = (client, upstream);
                let up = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut u2);
                    let _ = u2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut u1, &mut c1);
                let _ = c1.shutdown(std::net::Shutdown::Write);
                let _ = up.join();
            });
        }
    });
    (addr, seen)
}

/// A port nothing listens on (bound, then let go).
fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test's home, with `profile` (TOML lines) as the default profile and the HTTPS
/// front in front of its server.
struct Net {
    env: Env,
    https: SocketAddr,
    ca: TestCa,
    ca_file: PathBuf,
}

impl Net {
    fn new() -> Net {
        let env = Env::new();
        let ca = test_ca("clerk test CA");
        let https = https_front(&ca, env.server.addr());
        let ca_file = env.write(&env.home().join("certs"), "company-ca.pem", &ca.pem);
        Net {
            env,
            https,
            ca,
            ca_file,
        }
    }

    fn profile(&self, lines: &str) {
        let config = format!(
            "[profiles.default]\nbase_url = \"https://localhost:{}/v1\"\n{lines}\n",
            self.https.port()
        );
        self.env.write(
            &self.env.home().join("config/clerk"),
            "config.toml",
            &config,
        );
    }

    fn ask(&self, vars: &[(&str, &str)]) -> std::process::Output {
        let mut c = self.env.cmd(&["ask", "--no-save", "Hello?"]);
        c.env_remove("OPENAI_BASE_URL");
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

fn toml_path(p: &std::path::Path) -> String {
    p.display().to_string().replace('\\', "\\\\")
}

#[test]
fn a_private_ca_is_trusted_from_ca_file_and_a_wrong_one_is_named() {
    let net = Net::new();
    // Without the company's CA: a TLS error that names the certificate problem and the fix.
    net.profile("");
    let o = net.ask(&[]);
    assert!(!o.status.success());
    let e = err(&o);
    assert!(e.contains("UnknownIssuer"), "{e}");
    assert!(e.contains("ca_file"), "{e}");
    assert_eq!(net.env.server.request_count(), 0);
    // The wrong CA: the same.
    let other = test_ca("someone else's CA");
    let wrong = net
        .env
        .write(&net.env.home().join("certs"), "other-ca.pem", &other.pem);
    net.profile(&format!("ca_file = \"{}\"", toml_path(&wrong)));
    let o = net.ask(&[]);
    assert!(!o.status.success());
    assert!(err(&o).contains("UnknownIssuer"), "{}", err(&o));
    // The right one: the answer arrives over HTTPS.
    net.profile(&format!("ca_file = \"{}\"", toml_path(&net.ca_file)));
    let o = net.ask(&[]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(!out(&o).is_empty());
    assert_eq!(net.env.server.request_count(), 1);
    // Relative to the config file's folder.
    net.profile("ca_file = \"../../certs/company-ca.pem\"");
    let o = net.ask(&[]);
    assert!(o.status.success(), "{}", err(&o));
    // A ca_file that is not a certificate is named.
    let junk = net
        .env
        .write(&net.env.home().join("certs"), "junk.pem", "hello\n");
    net.profile(&format!("ca_file = \"{}\"", toml_path(&junk)));
    let o = net.ask(&[]);
    assert_eq!(o.status.code(), Some(2), "a config problem: {}", err(&o));
    assert!(err(&o).contains("profile `default`"), "{}", err(&o));
    assert!(
        err(&o).contains("junk.pem") && err(&o).contains("no certificate"),
        "{}",
        err(&o)
    );
    let _ = &net.ca;
}

#[test]
fn ssl_cert_file_is_trusted_too() {
    let net = Net::new();
    net.profile("");
    let o = net.ask(&[("SSL_CERT_FILE", net.ca_file.to_str().unwrap())]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(net.env.server.request_count(), 1);
}

#[test]
fn requests_go_through_the_profiles_proxy_or_the_environments() {
    let net = Net::new();
    let (proxy, seen) = connect_proxy();
    let ca = format!("ca_file = \"{}\"", toml_path(&net.ca_file));
    let target = format!("CONNECT localhost:{} ", net.https.port());
    // The profile's proxy.
    net.profile(&format!("{ca}\nproxy = \"http://{proxy}\""));
    let o = net.ask(&[]);
    assert!(o.status.success(), "{}", err(&o));
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].starts_with(&target), "{seen:?}");
    }
    // HTTPS_PROXY, for a profile without one.
    net.profile(&ca);
    let o = net.ask(&[("HTTPS_PROXY", &format!("http://{proxy}"))]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(seen.lock().unwrap().len(), 2);
    // NO_PROXY names the host: straight there, even with a dead proxy.
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let o = net.ask(&[("HTTPS_PROXY", &dead), ("NO_PROXY", "localhost")]);
    assert!(o.status.success(), "{}", err(&o));
    // proxy = "none": straight there whatever HTTPS_PROXY says.
    net.profile(&format!("{ca}\nproxy = \"none\""));
    let o = net.ask(&[("HTTPS_PROXY", &dead)]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(seen.lock().unwrap().len(), 2, "the proxy saw nothing more");
    // A dead proxy is a connection error, not a hang.
    net.profile(&format!("{ca}\nproxy = \"{dead}\""));
    let o = net.ask(&[]);
    assert!(!o.status.success());
    assert!(err(&o).contains("cannot connect"), "{}", err(&o));
    assert_eq!(net.env.server.request_count(), 4);
}

#[test]
fn a_proxy_that_is_not_a_url_is_a_config_error() {
    let net = Net::new();
    net.profile("proxy = \"proxy.example.com:3128\"");
    let o = net.ask(&[]);
    assert!(!o.status.success());
    assert!(err(&o).contains("must be a URL"), "{}", err(&o));
}

#[test]
fn a_proxys_password_is_never_shown() {
    let net = Net::new();
    net.profile("proxy = \"http://ana:s3cret-pw@127.0.0.1:9\"");
    let o = net.env.run(&["config", "show"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        out(&o).contains("proxy = \"http://ana:***@127.0.0.1:9\""),
        "{}",
        out(&o)
    );
    // A proxy that fails: the error names it without the password.
    let o = net.ask(&[]);
    assert!(!o.status.success());
    for text in [out(&o), err(&o)] {
        assert!(!text.contains("s3cret-pw"), "{text}");
    }
    // Nor in the log.
    let log = net.env.home().join("state/clerk/clerk.log");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("s3cret-pw"), "{text}");
}
