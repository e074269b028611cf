//! A profile's network settings read from the config: its proxy. (Which roots a connection
//! trusts is `llm::trust`.)

/// The proxy setting of a profile. A profile's `proxy` wins (`"none"` connects directly);
/// without one, reqwest reads `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` and `NO_PROXY`
/// (upper or lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyChoice {
    /// From the environment (`HTTPS_PROXY`, `NO_PROXY`…).
    Environment,
    /// Straight to the endpoint, whatever the environment says.
    Direct,
    /// Through this proxy (`NO_PROXY` still applies).
    Via(String),
}

impl ProxyChoice {
    /// A profile's `proxy` value: unset → the environment; `"none"` → direct.
    pub fn of(setting: Option<&str>) -> ProxyChoice {
        match setting.map(str::trim) {
            None | Some("") => ProxyChoice::Environment,
            Some(s) if s.eq_ignore_ascii_case("none") => ProxyChoice::Direct,
            Some(s) => ProxyChoice::Via(s.to_string()),
        }
    }
}

/// What is wrong with a `proxy` value, if anything (`None` when it is usable).
pub fn proxy_problem(setting: &str) -> Option<String> {
    match ProxyChoice::of(Some(setting)) {
        ProxyChoice::Via(url) => {
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !scheme_ok || reqwest::Proxy::all(&url).is_err() {
                Some(tr!("config.network.proxy", proxy = without_password(&url)).into_owned())
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A proxy URL with any password replaced by `***`, for messages.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.split_once('@') {
        Some((a, h)) if !a.contains('/') => (a, h),
        _ => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// The certificates of a PEM file (DER, for rustls and the HTTP client alike); an error when
/// it cannot be read or holds none.
pub fn pem_file(
    path: &std::path::Path,
    what: &str,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|e| {
        tr!(
            "config.network.pem_unreadable",
            what = what,
            path = path.display(),
            error = e
        )
        .into_owned()
    })?;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    if certs.is_empty() {
        return Err(tr!(
            "config.network.pem_empty",
            what = what,
            path = path.display()
        )
        .into_owned());
    }
    Ok(certs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn proxy_settings_are_read_and_checked() {
        assert_eq!(ProxyChoice::of(None), ProxyChoice::Environment);
        assert_eq!(ProxyChoice::of(Some("")), ProxyChoice::Environment);
        assert_eq!(ProxyChoice::of(Some("None")), ProxyChoice::Direct);
        assert_eq!(
            ProxyChoice::of(Some("http://proxy:3128")),
            ProxyChoice::Via("http://proxy:3128".into())
        );
        assert_eq!(proxy_problem("http://proxy.corp:3128"), None);
        assert_eq!(proxy_problem("none"), None);
        let e = proxy_problem("proxy.corp:3128").unwrap();
        assert!(e.contains("must be a URL"), "{e}");
        let e = proxy_problem("ftp://u:secret@proxy").unwrap();
        assert!(!e.contains("secret") && e.contains("u:***@proxy"), "{e}");
    }

    #[test]
    fn proxy_and_certificate_problems_read_in_chinese() {
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let e = proxy_problem("proxy.corp:3128").unwrap();
        assert!(e.starts_with("代理 `proxy.corp:3128` 必须是"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("ca.pem");
        std::fs::write(&pem, "not a certificate").unwrap();
        let e = pem_file(&pem, "ca_file").unwrap_err();
        assert!(e.contains("ca_file `") && e.contains("中没有证书"), "{e}");
        let e = pem_file(&dir.path().join("none.pem"), "ca_file").unwrap_err();
        assert!(e.starts_with("无法读取 ca_file `"), "{e}");
    }
}
