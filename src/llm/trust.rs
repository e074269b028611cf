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
//! it is tested without touching the process's environment.

use std::path::{Path, PathBuf};

/// The roots to give the HTTP client.
#[derive(Debug, Default)]
pub enum Roots {
    /// The system's alone.
    #[default]
    System,
    /// The system's (through the OS verifier) and these.
    Merge(Vec<reqwest::Certificate>),
    /// These only: the system bundle read by clerk, and the extra ones (Linux with
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR` set).
    Only(Vec<reqwest::Certificate>),
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
        let mut all = Vec::new();
        for der in system_bundle() {
            all.push(
                reqwest::Certificate::from_der(&der)
                    .map_err(|e| format!("a system certificate cannot be read: {e}"))?,
            );
        }
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
fn pem_dir(dir: &Path) -> Vec<reqwest::Certificate> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        if let Ok(bytes) = std::fs::read(e.path()) {
            out.extend(reqwest::Certificate::from_pem_bundle(&bytes).unwrap_or_default());
        }
    }
    out
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
}
