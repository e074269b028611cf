//! The way to the endpoint, one step at a time, so a failure names the step: the proxy in
//! use (`proxy`), the name resolved (`dns`), the TCP connection and, behind a proxy, its
//! CONNECT tunnel (`tcp`), the TLS handshake with the certificate authorities clerk trusts
//! (`tls`).
//!
//! Behind a proxy, DNS and TCP go to the proxy and TLS runs through its tunnel, as the
//! HTTP client does it. The handshake uses the certificate check the HTTP client builds
//! from the same roots (`llm::trust`), and reports the issuer of the certificate the
//! server showed, trusted or not. Each step has its own timeout.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Check, CheckId, DNS_TIMEOUT, Said, State, TCP_TIMEOUT, TLS_TIMEOUT, said};
use crate::config::network::ProxyChoice;
use crate::llm::trust::{self, ProxyHop, Route, TrustSources};

/// A byte stream: a TCP connection, or TLS over one (to an `https://` proxy).
pub(super) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// An open connection on the way to the endpoint.
pub(super) type Conn = Box<dyn Stream>;

/// Where an endpoint's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// The base URL.
    pub url: String,
    /// `https://`.
    pub tls: bool,
    /// The host (an IPv6 address without brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Target {
    /// The host and port of a base URL.
    pub(super) fn parse(url: &str) -> Result<Target, Said> {
        let u = reqwest::Url::parse(url)
            .map_err(|e| said(|| tr!("doctor.target.not_a_url", url = url, why = e)))?;
        let host = match u.host_str() {
            Some(h) if !h.is_empty() => h.trim_matches(|c| c == '[' || c == ']').to_string(),
            _ => return Err(said(|| tr!("doctor.target.no_host", url = url))),
        };
        let port = u
            .port_or_known_default()
            .ok_or_else(|| said(|| tr!("doctor.target.no_port", url = url)))?;
        Ok(Target {
            url: url.to_string(),
            tls: u.scheme() == "https",
            host,
            port,
        })
    }

    fn host_port(&self) -> String {
        host_port(&self.host, self.port)
    }
}

/// `host:port`, with an IPv6 address in brackets.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `proxy`: which proxy requests take (the profile's `proxy`, `HTTPS_PROXY`, `NO_PROXY`,
/// the system's settings), decided as the HTTP client decides it.
pub(super) fn proxy(s: &mut State<'_>) -> Check {
    let id = CheckId::Proxy;
    let (profile, target) = match &s.profile {
        Ok(p) => p,
        Err(by) => {
            s.route = Err(*by);
            return Check::not_checked(id, *by);
        }
    };
    let choice = ProxyChoice::of(profile.proxy.as_deref());
    // The route is worked out in each language (it is pure and quick), for its `why`.
    let route_of = || trust::route(&choice, &target.url, &crate::secrets::process_env);
    let route = match route_of() {
        Ok(r) => r,
        Err(_) => {
            s.route = Err(id);
            let e = said(|| route_of().err().unwrap_or_default());
            return Check::fail(id, e, said(|| tr!("doctor.proxy.bad_url_fix")));
        }
    };
    let why = said(|| route_of().map(|r| r.why).unwrap_or_default());
    let check = match &route.proxy {
        None => Check::ok(id, said(|| tr!("doctor.proxy.none", why = why))),
        Some(hop) if hop.scheme != "http" && hop.scheme != "https" => {
            let check = Check::fail(
                id,
                said(|| {
                    tr!(
                        "doctor.proxy.unsupported",
                        proxy = hop.shown,
                        why = why,
                        scheme = hop.scheme
                    )
                }),
                said(|| tr!("doctor.proxy.unsupported_fix")),
            );
            s.route = Err(id);
            return check;
        }
        Some(hop) => {
            let how = said(|| match target.tls {
                true => tr!("doctor.proxy.how_tls", host = target.host),
                false => tr!("doctor.proxy.how_http"),
            });
            Check::ok(
                id,
                said(|| tr!("doctor.proxy.ok", proxy = hop.shown, why = why, how = how)),
            )
        }
    };
    s.route = Ok(route);
    check
}

/// What DNS and TCP talk to: the proxy, or the endpoint itself.
fn first_hop<'r>(route: &'r Route, target: &'r Target) -> (&'r str, u16, Option<&'r ProxyHop>) {
    match &route.proxy {
        Some(hop) => (&hop.host, hop.port, Some(hop)),
        None => (&target.host, target.port, None),
    }
}

/// `dns`: the first hop's name resolves (the proxy resolves the endpoint's name itself).
pub(super) async fn dns(s: &mut State<'_>) -> Check {
    let id = CheckId::Dns;
    let (route, target) = match (&s.route, &s.profile) {
        (Ok(r), Ok((_, t))) => (r, t),
        (Err(by), _) | (_, Err(by)) => {
            s.addrs = Err(*by);
            return Check::not_checked(id, *by);
        }
    };
    let (host, port, hop) = first_hop(route, target);
    let whose = said(|| match hop {
        Some(h) => tr!("doctor.dns.the_proxy", proxy = h.shown),
        None => tr!("doctor.dns.the_endpoint", url = target.url),
    });
    let behind = said(|| match hop {
        Some(_) => tr!("doctor.dns.behind", host = target.host),
        None => "".into(),
    });
    if let Ok(ip) = host.parse::<IpAddr>() {
        s.addrs = Ok(vec![SocketAddr::new(ip, port)]);
        return Check::ok(
            id,
            said(|| {
                tr!(
                    "doctor.dns.address",
                    host = host,
                    whose = whose,
                    behind = behind
                )
            }),
        );
    }
    let start = Instant::now();
    let fix = match hop {
        Some(_) => said(|| tr!("doctor.dns.proxy_fix", why = route.why)),
        None => said(|| tr!("doctor.dns.fix")),
    };
    match tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(found)) => {
            let addrs: Vec<SocketAddr> = found.collect();
            if addrs.is_empty() {
                s.addrs = Err(id);
                return Check::fail(
                    id,
                    said(|| tr!("doctor.dns.no_address", host = host, whose = whose)),
                    fix,
                );
            }
            let shown: Vec<String> = addrs.iter().take(3).map(|a| a.ip().to_string()).collect();
            let ms = start.elapsed().as_millis();
            let shown = shown.join(", ");
            let detail = said(|| {
                let more = match addrs.len() {
                    n if n > 3 => tr!("doctor.dns.more", n = n - 3),
                    _ => "".into(),
                };
                tr!(
                    "doctor.dns.ok",
                    host = host,
                    whose = whose,
                    addrs = shown,
                    more = more,
                    ms = ms,
                    behind = behind
                )
            });
            s.addrs = Ok(addrs);
            Check::ok(id, detail)
        }
        Ok(Err(e)) => {
            s.addrs = Err(id);
            Check::fail(
                id,
                said(|| tr!("doctor.dns.failed", host = host, whose = whose, why = e)),
                fix,
            )
        }
        Err(_) => {
            s.addrs = Err(id);
            let secs = DNS_TIMEOUT.as_secs();
            Check::fail(
                id,
                said(|| {
                    tr!(
                        "doctor.dns.timeout",
                        host = host,
                        whose = whose,
                        secs = secs
                    )
                }),
                said(|| tr!("doctor.dns.timeout_fix")),
            )
        }
    }
}

/// `tcp`: a connection opens to the first hop; behind a proxy, the proxy opens a tunnel to
/// the endpoint (CONNECT) for an `https://` endpoint.
pub(super) async fn tcp(s: &mut State<'_>) -> Check {
    let id = CheckId::Tcp;
    let (route, target, addrs, profile) = match (&s.route, &s.profile, &s.addrs) {
        (Ok(r), Ok((p, t)), Ok(a)) => (r, t, a, p),
        (Err(by), _, _) | (_, Err(by), _) | (_, _, Err(by)) => {
            s.conn = Err(*by);
            return Check::not_checked(id, *by);
        }
    };
    let (host, port, hop) = first_hop(route, target);
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + TCP_TIMEOUT;
    let mut last = None;
    let mut tcp = None;
    // Each address gets an equal share of what is left, so one that drops packets (an IPv6
    // route that goes nowhere) does not use up the time of the next, as the HTTP client's
    // own connector falls back too.
    for (i, addr) in addrs.iter().enumerate() {
        let left = u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
        let share = deadline.saturating_duration_since(tokio::time::Instant::now()) / left;
        match tokio::time::timeout(share, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                tcp = Some((stream, *addr));
                break;
            }
            Ok(Err(e)) => last = Some(Said::from(format!("{addr}: {e}"))),
            Err(_) => last = Some(said(|| tr!("doctor.tcp.late", addr = addr))),
        }
    }
    if tcp.is_none() && tokio::time::Instant::now() >= deadline {
        let before = last.unwrap_or_default();
        let secs = TCP_TIMEOUT.as_secs();
        last = Some(said(|| {
            tr!("doctor.tcp.timeout", before = before, secs = secs)
        }));
    }
    let Some((stream, addr)) = tcp else {
        s.conn = Err(id);
        let why = last.unwrap_or_else(|| said(|| tr!("doctor.tcp.no_address")));
        return match hop {
            Some(h) => Check::fail(
                id,
                said(|| {
                    tr!(
                        "doctor.tcp.proxy_failed",
                        proxy = h.shown,
                        why = why,
                        url = target.url
                    )
                }),
                said(|| tr!("doctor.tcp.proxy_failed_fix", why = route.why)),
            ),
            None => Check::fail(
                id,
                said(|| {
                    tr!(
                        "doctor.tcp.failed",
                        to = host_port(host, port),
                        url = target.url,
                        why = why
                    )
                }),
                said(|| tr!("doctor.tcp.failed_fix")),
            ),
        };
    };
    let at = if host.parse::<IpAddr>().is_ok() {
        String::new()
    } else {
        format!(" ({})", addr.ip())
    };
    let ms = start.elapsed().as_millis();
    let to = host_port(host, port);
    let connected = said(|| tr!("doctor.tcp.connected", to = to, at = at, ms = ms));
    let Some(hop) = hop else {
        s.conn = Ok(Box::new(stream));
        return Check::ok(id, connected);
    };
    // Behind a proxy: TLS to the proxy itself when it is an https:// one, then the tunnel.
    let mut conn: Conn = Box::new(stream);
    if hop.scheme == "https" {
        let sources = TrustSources::from_env(profile.ca_file.as_deref());
        match handshake(conn, &hop.host, &sources).await {
            Shake::Done { stream, .. } => conn = stream,
            Shake::Failed { detail, fix } => {
                s.conn = Err(id);
                return Check::fail(
                    id,
                    said(|| {
                        tr!(
                            "doctor.tcp.proxy_tls_failed",
                            connected = connected,
                            proxy = hop.shown,
                            why = detail
                        )
                    }),
                    fix,
                );
            }
        }
    }
    if !target.tls {
        s.conn = Ok(conn);
        return Check::ok(
            id,
            said(|| {
                tr!(
                    "doctor.tcp.forwards",
                    connected = connected,
                    proxy = hop.shown
                )
            }),
        );
    }
    match tokio::time::timeout(TCP_TIMEOUT, tunnel(&mut conn, &target.host_port(), hop)).await {
        Ok(Ok(())) => {
            s.conn = Ok(conn);
            Check::ok(
                id,
                said(|| {
                    tr!(
                        "doctor.tcp.tunnel",
                        connected = connected,
                        proxy = hop.shown,
                        to = target.host_port()
                    )
                }),
            )
        }
        Ok(Err(refused)) => {
            s.conn = Err(id);
            let login = refused.en.contains("407");
            Check::fail(
                id,
                said(|| {
                    tr!(
                        "doctor.tcp.refused",
                        connected = connected,
                        proxy = hop.shown,
                        refused = refused
                    )
                }),
                said(|| match login {
                    true => tr!("doctor.tcp.login_fix"),
                    false => tr!("doctor.tcp.refused_fix", host = target.host),
                }),
            )
        }
        Err(_) => {
            s.conn = Err(id);
            let secs = TCP_TIMEOUT.as_secs();
            Check::fail(
                id,
                said(|| {
                    tr!(
                        "doctor.tcp.connect_timeout",
                        connected = connected,
                        proxy = hop.shown,
                        secs = secs
                    )
                }),
                said(|| tr!("doctor.tcp.connect_timeout_fix")),
            )
        }
    }
}

/// Ask the proxy for a tunnel to `to` (`host:port`); `Err` says what it answered instead.
async fn tunnel(conn: &mut Conn, to: &str, hop: &ProxyHop) -> Result<(), Said> {
    let mut request = format!("CONNECT {to} HTTP/1.1\r\nHost: {to}\r\n");
    if let Some(auth) = hop.auth.as_ref().and_then(|a| a.to_str().ok()) {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    conn.write_all(request.as_bytes())
        .await
        .map_err(|e| said(|| tr!("doctor.tunnel.not_sent", why = e)))?;
    // Read the head byte by byte: what follows it belongs to the TLS handshake.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(said(|| tr!("doctor.tunnel.not_http")));
        }
        match conn.read(&mut byte).await {
            Ok(0) => return Err(said(|| tr!("doctor.tunnel.closed"))),
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(said(|| tr!("doctor.tunnel.failed", why = e))),
        }
    }
    let status_line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    match status_line.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(()),
        Some(_) => {
            let status = crate::llm::error::excerpt(&status_line, 80);
            Err(said(|| {
                tr!("doctor.tunnel.refused", to = to, status = status)
            }))
        }
        None => Err(said(|| tr!("doctor.tunnel.not_http"))),
    }
}

/// `tls`: the TLS handshake with the endpoint (through the tunnel behind a proxy), with the
/// certificate check clerk's HTTP client makes; the issuer of the server's certificate and
/// the trusted authorities are named, and a rejected certificate says why.
pub(super) async fn tls(s: &mut State<'_>) -> Check {
    let id = CheckId::Tls;
    let target = match (&s.profile, &s.conn) {
        (Ok((_, t)), Ok(_)) => t.clone(),
        (Err(by), _) | (_, Err(by)) => {
            s.tls = Err(*by);
            return Check::not_checked(id, *by);
        }
    };
    if !target.tls {
        s.tls = Ok(());
        return if is_local(&target.host) {
            Check::ok(id, said(|| tr!("doctor.tls.local")))
        } else {
            Check::warn(
                id,
                said(|| tr!("doctor.tls.plain", url = target.url)),
                said(|| tr!("doctor.tls.plain_fix")),
            )
        };
    }
    let profile_ca = s.profile.as_ref().ok().and_then(|(p, _)| p.ca_file.clone());
    let through = s
        .route
        .as_ref()
        .ok()
        .and_then(|r| r.proxy.as_ref())
        .map(|h| said(|| tr!("doctor.tls.through", proxy = h.shown)))
        .unwrap_or_default();
    let conn = match std::mem::replace(&mut s.conn, Err(id)) {
        Ok(c) => c,
        Err(by) => return Check::not_checked(id, by),
    };
    let sources = TrustSources::from_env(profile_ca.as_deref());
    match handshake(conn, &target.host, &sources).await {
        Shake::Done {
            version, issuer, ..
        } => {
            s.tls = Ok(());
            Check::ok(
                id,
                said(|| {
                    let issuer = match &issuer {
                        Some(i) => i.as_str().into(),
                        None => tr!("doctor.tls.unreadable_issuer"),
                    };
                    tr!(
                        "doctor.tls.ok",
                        version = version,
                        to = target.host_port(),
                        through = through,
                        issuer = issuer,
                        trusted = sources.describe()
                    )
                }),
            )
        }
        Shake::Failed { detail, fix } => {
            s.tls = Err(id);
            Check::fail(
                id,
                said(|| {
                    tr!(
                        "doctor.tls.failed",
                        to = target.host_port(),
                        through = through,
                        url = target.url,
                        why = detail
                    )
                }),
                fix,
            )
        }
    }
}

/// Whether `host` is this machine.
fn is_local(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// How a handshake ended.
enum Shake {
    Done {
        stream: Conn,
        version: String,
        issuer: Option<String>,
    },
    Failed {
        detail: Said,
        fix: Said,
    },
}

/// A TLS handshake over `conn` with `host`, trusting `sources` as the HTTP client does.
async fn handshake(conn: Conn, host: &str, sources: &TrustSources) -> Shake {
    let verify = || trust::roots(sources, &trust::system_bundle).and_then(trust::verifier);
    let verifier = match verify() {
        Ok(v) => v,
        Err(_) => {
            return Shake::Failed {
                detail: said(|| verify().err().unwrap_or_default()),
                fix: said(|| tr!("doctor.tls.bundle_fix")),
            };
        }
    };
    let seen = Arc::new(Seen {
        inner: verifier,
        leaf: Mutex::new(None),
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = match rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
    {
        Ok(b) => {
            let mut c = b
                .dangerous()
                .with_custom_certificate_verifier(seen.clone())
                .with_no_client_auth();
            c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            c
        }
        Err(e) => {
            return Shake::Failed {
                detail: said(|| tr!("doctor.tls.no_setup", why = e)),
                fix: said(|| tr!("doctor.tls.bug_fix")),
            };
        }
    };
    let name = match ServerName::try_from(host.to_string()) {
        Ok(n) => n,
        Err(e) => {
            return Shake::Failed {
                detail: said(|| tr!("doctor.tls.bad_name", host = host, why = e)),
                fix: said(|| tr!("doctor.tls.bad_name_fix")),
            };
        }
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let shown_issuer = || seen.issuer();
    match tokio::time::timeout(TLS_TIMEOUT, connector.connect(name, conn)).await {
        Ok(Ok(stream)) => {
            let version = match stream.get_ref().1.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
                Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
                Some(other) => format!("{other:?}"),
                None => "TLS".to_string(),
            };
            Shake::Done {
                version,
                issuer: shown_issuer(),
                stream: Box::new(stream),
            }
        }
        Ok(Err(e)) => {
            let text = error_chain(&e);
            let lower = text.to_lowercase();
            let problem = || crate::llm::client::certificate_problem(&lower);
            let issuer = shown_issuer();
            let detail = said(|| {
                let issued = match &issuer {
                    Some(i) => tr!("doctor.tls.issued", issuer = i),
                    None => "".into(),
                };
                tr!(
                    "doctor.tls.rejected",
                    problem = problem().unwrap_or_else(|| text.clone()),
                    issued = issued,
                    trusted = sources.describe()
                )
            });
            let code = problem().unwrap_or_default();
            let fix = said(|| match code.as_str() {
                p if p.contains("UnknownIssuer") => tr!("doctor.tls.unknown_issuer_fix"),
                p if p.contains("NotValidForName") => tr!("doctor.tls.name_fix"),
                p if p.contains("Expired") || p.contains("NotValidYet") => {
                    tr!("doctor.tls.clock_fix")
                }
                _ => tr!("doctor.tls.https_fix"),
            });
            Shake::Failed { detail, fix }
        }
        Err(_) => Shake::Failed {
            detail: said(|| tr!("doctor.tls.timeout", secs = TLS_TIMEOUT.as_secs())),
            fix: said(|| tr!("doctor.tls.timeout_fix")),
        },
    }
}

/// An error and its causes, as one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// The certificate check of the HTTP client, keeping the certificate the server showed so
/// that its issuer can be named, trusted or not.
#[derive(Debug)]
struct Seen {
    inner: Arc<dyn ServerCertVerifier>,
    leaf: Mutex<Option<CertificateDer<'static>>>,
}

impl Seen {
    fn issuer(&self) -> Option<String> {
        let leaf = self.leaf.lock().unwrap_or_else(PoisonError::into_inner);
        leaf.as_ref().and_then(|der| issuer_name(der))
    }
}

impl ServerCertVerifier for Seen {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.leaf.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(end_entity.clone().into_owned());
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// One DER element: its tag, its contents and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The issuer of a DER certificate in words: its common name and, when it has one, its
/// organisation (`WE1 (Google Trust Services)`).
pub(super) fn issuer_name(der: &[u8]) -> Option<String> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, cert, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] version, when present; then the serial number and the signature algorithm.
    let (tag, _, after) = element(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    let (_, _, after) = element(rest)?; // serial
    let (_, _, after) = element(after)?; // signature algorithm
    let (SEQUENCE, name, _) = element(after)? else {
        return None;
    };
    let (mut common, mut org) = (None, None);
    let mut rdns = name;
    while let Some((_, set, next)) = element(rdns) {
        rdns = next;
        let mut attrs = set;
        while let Some((_, attr, next)) = element(attrs) {
            attrs = next;
            let Some((0x06, oid, value)) = element(attr) else {
                continue;
            };
            let Some((kind, text, _)) = element(value) else {
                continue;
            };
            let text = match kind {
                // BMPString: UTF-16, big-endian.
                0x1e => String::from_utf16_lossy(
                    &text
                        .chunks(2)
                        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                        .collect::<Vec<_>>(),
                ),
                _ => String::from_utf8_lossy(text).into_owned(),
            };
            match oid {
                [0x55, 0x04, 0x03] => common = Some(text),
                [0x55, 0x04, 0x0a] => org = Some(text),
                _ => {}
            }
        }
    }
    match (common, org) {
        (Some(cn), Some(o)) if cn != o => Some(format!("{cn} ({o})")),
        (Some(cn), _) => Some(cn),
        (None, o) => o,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cert_issued_by(cn: &str, org: Option<&str>) -> Vec<u8> {
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, cn);
        if let Some(o) = org {
            ca.distinguished_name
                .push(rcgen::DnType::OrganizationName, o);
        }
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        leaf.signed_by(&key, &issuer).unwrap().der().to_vec()
    }

    #[test]
    fn the_issuer_of_a_certificate_is_read() {
        assert_eq!(
            issuer_name(&cert_issued_by("WE1", Some("Google Trust Services"))).as_deref(),
            Some("WE1 (Google Trust Services)")
        );
        assert_eq!(
            issuer_name(&cert_issued_by("clerk test CA", None)).as_deref(),
            Some("clerk test CA")
        );
        assert_eq!(issuer_name(b"not a certificate"), None);
        assert_eq!(
            issuer_name(&[0x30, 0x82, 0xff]),
            None,
            "a length past the end"
        );
    }

    #[test]
    fn targets_name_host_and_port() {
        let t = Target::parse("https://api.openai.com/v1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls),
            ("api.openai.com", 443, true)
        );
        let t = Target::parse("http://[::1]:8080/v1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("::1", 8080, false));
        assert_eq!(t.host_port(), "[::1]:8080");
        assert!(Target::parse("https://").is_err());
        assert!(is_local("127.0.0.1") && is_local("localhost") && is_local("::1"));
        assert!(!is_local("10.0.0.5"));
    }
}
