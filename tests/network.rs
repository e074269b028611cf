//! HTTPS through private certificate authorities and proxies, for real: a test CA and a
//! server certificate made here (rcgen), an HTTPS front (tokio-rustls) over the local test
//! server, and a CONNECT proxy that records where it was asked to go. `clerk ask` runs
//! against them as a process, with a profile's `ca_file` / `proxy`, `SSL_CERT_FILE`,
//! `HTTPS_PROXY` and `NO_PROXY`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::env::{err, out};
use support::net::{Net, connect_proxy, dead_port, test_ca, toml_path};

impl Net {
    fn ask(&self, vars: &[(&str, &str)]) -> std::process::Output {
        self.run(&["ask", "--no-save", "Hello?"], vars)
    }
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
