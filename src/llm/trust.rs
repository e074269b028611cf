//! Which certificate authorities an HTTPS connection trusts, and through which proxy it goes.
//!
//! Trust: the system's roots always (the OS verifier on macOS and Windows; the OS bundle on
//! Linux), plus a profile's `ca_file` (a company's private CA, or the CA of a proxy that
//! inspects TLS), plus `SSL_CERT_FILE` / `SSL_CERT_DIR`. On Linux the certificate loader
//! would take `SSL_CERT_FILE` *instead of* the system bundle; clerk adds it instead, so
//! pointing it at one company CA does not make every public endpoint untrusted.
//!
//! Proxy: [`crate::config::network::ProxyChoice`].
//!
//! [`roots`] decides from what it is given (files read, environment values passed in), so
//! it is tested without touching the process's environment. [`verifier`] turns the roots
//! into the certificate check the HTTP client makes, for a TLS handshake of clerk's own
//! (`clerk doctor`); [`route`] says which proxy the HTTP client takes to a URL, and why.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;

/// The roots to give the HTTP client (DER certificates).
#[derive(Debug, Default)]
pub enum Roots {
    /// The system's alone.
    #[default]
    System,
    /// The system's (through the OS verifier) and these.
    Merge(Vec<CertificateDer<'static>>),
    /// These only: the system bundle read by clerk, and the extra ones (Linux with
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR` set).
    Only(Vec<CertificateDer<'static>>),
}

/// Where extra trust comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustSources {
    /// The profile's `ca_file`.
    pub ca_file: Option<PathBuf>,
    /// `SSL_CERT_FILE`, when set and not empty.
    pub env_file: Option<PathBuf>,
    /// `SSL_CERT_DIR`, when set and not empty (one folder; `:`-separated lists are split).
    pub env_dirs: Vec<PathBuf>,
}

impl TrustSources {
    /// The profile's `ca_file` and the process's `SSL_CERT_FILE` / `SSL_CERT_DIR`.
    pub fn from_env(ca_file: Option<&Path>) -> TrustSources {
        let file = std::env::var_os("SSL_CERT_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let dirs = std::env::var_os("SSL_CERT_DIR")
            .map(|v| std::env::split_paths(&v).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        TrustSources {
            ca_file: ca_file.map(Path::to_path_buf),
            env_file: file,
            env_dirs: dirs,
        }
    }

    /// The trusted authorities in words: `system roots + ca_file /etc/corp-ca.pem`.
    pub fn describe(&self) -> String {
        let mut parts = vec![tr!("llm.trust.system_roots").into_owned()];
        if let Some(f) = &self.ca_file {
            parts.push(format!("ca_file {}", f.display()));
        }
        if let Some(f) = &self.env_file {
            parts.push(format!("SSL_CERT_FILE {}", f.display()));
        }
        for d in &self.env_dirs {
            parts.push(format!("SSL_CERT_DIR {}", d.display()));
        }
        parts.join(" + ")
    }
}

/// The roots for `sources`. `system_bundle` reads the OS's own certificates (used only
/// where the OS loader would otherwise replace them with `SSL_CERT_FILE`). An error names
/// the file and what is wrong with it.
pub fn roots(
    sources: &TrustSources,
    system_bundle: &dyn Fn() -> Vec<Vec<u8>>,
) -> Result<Roots, String> {
    let mut extra = Vec::new();
    if let Some(f) = &sources.ca_file {
        extra.extend(crate::config::network::pem_file(f, "ca_file")?);
    }
    if let Some(f) = &sources.env_file {
        extra.extend(crate::config::network::pem_file(f, "SSL_CERT_FILE")?);
    }
    for d in &sources.env_dirs {
        extra.extend(pem_dir(d));
    }
    let env_set = sources.env_file.is_some() || !sources.env_dirs.is_empty();
    if env_set && ENV_REPLACES_SYSTEM {
        let mut all: Vec<CertificateDer<'static>> = system_bundle()
            .into_iter()
            .map(CertificateDer::from)
            .collect();
        all.extend(extra);
        return Ok(Roots::Only(all));
    }
    Ok(if extra.is_empty() {
        Roots::System
    } else {
        Roots::Merge(extra)
    })
}

/// Whether the OS certificate loader takes `SSL_CERT_FILE` / `SSL_CERT_DIR` instead of the
/// system's roots (rustls-native-certs does, on Unix but macOS).
const ENV_REPLACES_SYSTEM: bool = cfg!(all(unix, not(target_os = "macos")));

/// The system's certificates as the OS bundle holds them (DER), read without looking at
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`: every file in the usual certificate folders.
pub fn system_bundle() -> Vec<Vec<u8>> {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for dir in openssl_probe::candidate_cert_dirs() {
            let found = rustls_native_certs::load_certs_from_paths(None, Some(dir));
            for c in found.certs {
                if seen.insert(c.as_ref().to_vec()) {
                    out.push(c.as_ref().to_vec());
                }
            }
        }
        out
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        Vec::new()
    }
}

/// The certificates of the PEM files in a folder (others skipped, as OpenSSL does).
fn pem_dir(dir: &Path) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        if let Ok(bytes) = std::fs::read(e.path()) {
            let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
            out.extend(certs.unwrap_or_default());
        }
    }
    out
}

/// The certificate check the HTTP client makes with `roots`, for a handshake of clerk's own.
/// It is what reqwest builds from the same roots: the OS verifier (with the extra roots
/// added) unless the roots replace the system's, then webpki over those roots alone.
pub fn verifier(
    roots: Roots,
) -> Result<Arc<dyn rustls::client::danger::ServerCertVerifier>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let os = |e: rustls::Error| tr!("llm.trust.system_check", why = e).into_owned();
    Ok(match roots {
        Roots::System => Arc::new(rustls_platform_verifier::Verifier::new(provider).map_err(os)?),
        Roots::Merge(extra) => merged(extra, provider).map_err(os)?,
        Roots::Only(certs) => {
            let mut store = rustls::RootCertStore::empty();
            for c in certs {
                store
                    .add(c)
                    .map_err(|e| tr!("llm.client.bad_certificate", why = e).into_owned())?;
            }
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                .build()
                .map_err(|e| tr!("llm.trust.check", why = e).into_owned())?
        }
    })
}

#[cfg(any(all(unix, not(target_os = "android")), windows))]
fn merged(
    extra: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::client::danger::ServerCertVerifier>, rustls::Error> {
    Ok(Arc::new(
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)?,
    ))
}

#[cfg(not(any(all(unix, not(target_os = "android")), windows)))]
fn merged(
    _: Vec<CertificateDer<'static>>,
    _: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::client::danger::ServerCertVerifier>, rustls::Error> {
    Err(rustls::Error::General(
        tr!("llm.trust.unsupported").into_owned(),
    ))
}

/// How requests to an endpoint leave this machine: straight, or through a proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The proxy, or `None` for a direct connection.
    pub proxy: Option<ProxyHop>,
    /// Why, in words: where the proxy was set, or why none is used.
    pub why: String,
}

/// A proxy on the way to an endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyHop {
    /// `http://proxy.example.com:3128` (never its user or password).
    pub shown: String,
    /// `http` or `https` (clerk speaks no other proxy protocol), or what was set instead.
    pub scheme: String,
    /// Its host (an IPv6 address without brackets).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The `Proxy-Authorization` value for the user and password in its URL.
    pub auth: Option<reqwest::header::HeaderValue>,
}

impl std::fmt::Debug for ProxyHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The authorization holds the proxy's password.
        f.debug_struct("ProxyHop")
            .field("shown", &self.shown)
            .field("auth", &self.auth.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

/// The proxy a request to `url` goes through with the profile's `choice`, decided as the
/// HTTP client decides it (hyper-util's matcher, which reqwest uses: the environment's
/// variables, and on macOS and Windows the system's settings). `env` looks a variable up,
/// only to say which one set the proxy.
pub fn route(
    choice: &crate::config::network::ProxyChoice,
    url: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Route, String> {
    use crate::config::network::ProxyChoice;
    use hyper_util::client::proxy::matcher::Matcher;
    let target: http::Uri = url
        .parse()
        .map_err(|e| tr!("llm.trust.not_a_url", url = url, why = e).into_owned())?;
    let host = target.host().unwrap_or_default().to_string();
    let no_proxy = first_set(env, &["NO_PROXY", "no_proxy"]);
    let (matcher, source) = match choice {
        ProxyChoice::Direct => {
            return Ok(Route {
                proxy: None,
                why: tr!("llm.trust.direct").into_owned(),
            });
        }
        ProxyChoice::Via(p) => (
            Matcher::builder()
                .all(p.as_str())
                .no(no_proxy.as_ref().map_or("", |(_, v)| v.as_str()))
                .build(),
            Some(tr!("llm.trust.profile_proxy").into_owned()),
        ),
        ProxyChoice::Environment => {
            let names: &[&str] = if target.scheme_str() == Some("http") {
                &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            } else {
                &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            };
            (
                Matcher::from_system(),
                first_set(env, names).map(|(name, _)| name.to_string()),
            )
        }
    };
    let Some(hop) = matcher.intercept(&target) else {
        let why = match (source, no_proxy) {
            (Some(set), Some((name, value))) => tr!(
                "llm.trust.no_proxy_covers",
                name = name,
                value = value,
                host = host,
                set = set
            )
            .into_owned(),
            (Some(set), None) => tr!("llm.trust.unusable_proxy", set = set).into_owned(),
            (None, _) => tr!("llm.trust.no_proxy").into_owned(),
        };
        return Ok(Route { proxy: None, why });
    };
    let uri = hop.uri();
    let scheme = uri.scheme_str().unwrap_or("http").to_string();
    let proxy_host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(|c| c == '[' || c == ']')
        .to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let shown = uri.to_string().trim_end_matches('/').to_string();
    Ok(Route {
        why: source.unwrap_or_else(|| tr!("llm.trust.system_proxy").into_owned()),
        proxy: Some(ProxyHop {
            shown,
            scheme,
            host: proxy_host,
            port,
            auth: hop.basic_auth().cloned(),
        }),
    })
}

/// The first of `names` that is set (even to nothing), with its value.
fn first_set(
    env: &dyn Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Option<(&'static str, String)> {
    names.iter().find_map(|n| env(n).map(|v| (*n, v)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // A self-signed CA made with `openssl req -x509 -newkey ec -pkeyopt
    // ec_paramgen_curve:P-256 -nodes -subj /CN=clerk-test-ca -days 36500`.
    const CA: &str = include_str!("../../tests/fixtures/tls/test-ca.pem");

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn count(r: &Roots) -> (&'static str, usize) {
        match r {
            Roots::System => ("system", 0),
            Roots::Merge(v) => ("merge", v.len()),
            Roots::Only(v) => ("only", v.len()),
        }
    }

    #[test]
    fn a_ca_file_is_added_to_the_systems_roots() {
        let d = tempfile::tempdir().unwrap();
        let ca = write(d.path(), "ca.pem", CA);
        let none = || Vec::new();
        let s = TrustSources {
            ca_file: Some(ca),
            ..TrustSources::default()
        };
        assert_eq!(count(&roots(&s, &none).unwrap()), ("merge", 1));
        assert_eq!(
            count(&roots(&TrustSources::default(), &none).unwrap()),
            ("system", 0)
        );
    }

    #[test]
    fn ssl_cert_file_keeps_the_system_roots() {
        let d = tempfile::tempdir().unwrap();
        let ca = write(d.path(), "ca.pem", CA);
        let s = TrustSources {
            env_file: Some(ca.clone()),
            ca_file: Some(ca),
            ..TrustSources::default()
        };
        // Two "system" certificates (the test CA's DER twice stands in for them).
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let bytes = CertificateDer::from_pem_slice(CA.as_bytes())
            .unwrap()
            .to_vec();
        let system = || vec![bytes.clone(), bytes.clone()];
        let r = roots(&s, &system).unwrap();
        if ENV_REPLACES_SYSTEM {
            assert_eq!(count(&r), ("only", 4), "system + SSL_CERT_FILE + ca_file");
        } else {
            assert_eq!(count(&r), ("merge", 2));
        }
    }

    #[test]
    fn unreadable_or_empty_ca_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        let none = || Vec::new();
        let missing = TrustSources {
            ca_file: Some(d.path().join("nope.pem")),
            ..TrustSources::default()
        };
        let e = roots(&missing, &none).unwrap_err();
        assert!(e.contains("ca_file") && e.contains("nope.pem"), "{e}");
        let junk = TrustSources {
            env_file: Some(write(d.path(), "junk.pem", "not a certificate\n")),
            ..TrustSources::default()
        };
        let e = roots(&junk, &none).unwrap_err();
        assert!(
            e.contains("SSL_CERT_FILE") && e.contains("no certificate"),
            "{e}"
        );
    }

    #[test]
    fn the_trusted_authorities_are_named() {
        assert_eq!(TrustSources::default().describe(), "system roots");
        let s = TrustSources {
            ca_file: Some(PathBuf::from("/etc/corp.pem")),
            env_file: Some(PathBuf::from("/x/bundle.pem")),
            env_dirs: vec![PathBuf::from("/x/certs")],
        };
        assert_eq!(
            s.describe(),
            "system roots + ca_file /etc/corp.pem + SSL_CERT_FILE /x/bundle.pem + SSL_CERT_DIR /x/certs"
        );
    }

    #[test]
    fn a_route_names_its_proxy_without_the_password_and_why() {
        use crate::config::network::ProxyChoice;
        let none = |_: &str| None;
        let r = route(&ProxyChoice::Direct, "https://api.openai.com/v1", &none).unwrap();
        assert!(r.proxy.is_none() && r.why.contains("\"none\""), "{r:?}");
        let via = ProxyChoice::Via("http://ana:s3cret@proxy.corp:3128".into());
        let r = route(&via, "https://api.openai.com/v1", &none).unwrap();
        let hop = r.proxy.clone().unwrap();
        assert_eq!(
            (
                hop.shown.as_str(),
                hop.host.as_str(),
                hop.port,
                hop.scheme.as_str()
            ),
            ("http://proxy.corp:3128", "proxy.corp", 3128, "http")
        );
        assert!(hop.auth.is_some());
        assert_eq!(r.why, "the profile's proxy");
        assert!(!format!("{r:?}").contains("s3cret"), "{r:?}");
        // NO_PROXY covers the host: straight there, and said so.
        let env = |n: &str| (n == "NO_PROXY").then(|| "localhost,.corp".to_string());
        let r = route(&via, "https://localhost:8443/v1", &env).unwrap();
        assert!(r.proxy.is_none(), "{r:?}");
        assert!(
            r.why
                .contains("NO_PROXY (`localhost,.corp`) covers localhost"),
            "{r:?}"
        );
    }
}
