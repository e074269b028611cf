//! The OS keyring behind a small trait, with a timeout on every call.
//!
//! The shipped binary always talks to the platform store (Secret Service on Linux and the
//! BSDs, Keychain on macOS, Credential Manager on Windows), built here explicitly through
//! `keyring-core`; there is no code path that falls back to an in-memory store. Tests of
//! the logic above use [`MemoryStore`], which exists only under `cfg(test)`.

use std::sync::Arc;
use std::sync::mpsc;

use keyring_core::{CredentialStore, Entry};

use super::{SecretError, TIMEOUT};

/// Somewhere keys can be kept.
pub trait KeyStore {
    /// The key for (service, account), `None` when there is none.
    fn get(&self, service: &str, account: &str) -> Result<Option<String>, SecretError>;
    /// Store a key.
    fn set(&self, service: &str, account: &str, key: &str) -> Result<(), SecretError>;
    /// Remove a key; `false` when there was none.
    fn delete(&self, service: &str, account: &str) -> Result<bool, SecretError>;
    /// A human name for the backend, e.g. "Secret Service".
    fn backend(&self) -> String;
}

/// The platform's keyring. Creating it does not touch the keyring; the first call does.
#[derive(Debug, Default)]
pub struct OsKeyring;

/// Name of the platform store compiled into this binary.
pub const PLATFORM_STORE: &str = if cfg!(target_os = "macos") {
    "macOS Keychain"
} else if cfg!(windows) {
    "Windows Credential Manager"
} else {
    "Secret Service"
};

fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    #[cfg(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
    #[cfg(target_os = "macos")]
    let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
    #[cfg(target_os = "windows")]
    let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

/// The vendor string of the platform store, as the store reports it. Used by
/// `clerk auth status` and by the test that proves no mock store is compiled in.
pub fn platform_vendor() -> Result<String, SecretError> {
    platform_vendor_within(TIMEOUT)
}

/// [`platform_vendor`], giving up after `timeout`: it connects to the store (on Linux, to
/// the Secret Service over D-Bus) without reading any key, so it never asks for an unlock.
pub fn platform_vendor_within(timeout: std::time::Duration) -> Result<String, SecretError> {
    with_timeout_of(timeout, || platform_store().map(|s| s.vendor()))
}

fn unavailable(e: keyring_core::Error) -> SecretError {
    SecretError::KeyringUnavailable {
        reason: describe(&e),
    }
}

/// A description of a keyring error that cannot contain a secret: `BadEncoding` and
/// `BadDataFormat` carry the stored bytes, so they are described by kind only.
fn describe(e: &keyring_core::Error) -> String {
    use keyring_core::Error as E;
    match e {
        E::BadEncoding(_) => tr!("secrets.keyring.bad_encoding").into_owned(),
        E::BadDataFormat(..) => tr!("secrets.keyring.bad_format").into_owned(),
        E::NoStorageAccess(inner) => tr!("secrets.keyring.no_access", error = inner).into_owned(),
        E::PlatformFailure(inner) => inner.to_string(),
        E::NoDefaultStore => tr!("secrets.keyring.no_service").into_owned(),
        other => other.to_string(),
    }
}

/// Run a keyring call on a helper thread and give up after [`TIMEOUT`]: a locked keyring
/// may otherwise wait forever for an unlock prompt nobody sees.
fn with_timeout<T: Send + 'static>(
    f: impl FnOnce() -> keyring_core::Result<T> + Send + 'static,
) -> Result<T, SecretError> {
    with_timeout_of(TIMEOUT, f)
}

fn with_timeout_of<T: Send + 'static>(
    timeout: std::time::Duration,
    f: impl FnOnce() -> keyring_core::Result<T> + Send + 'static,
) -> Result<T, SecretError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(timeout) {
        Ok(r) => r.map_err(unavailable),
        Err(_) => Err(SecretError::KeyringUnavailable {
            reason: tr!("secrets.keyring.timeout", seconds = timeout.as_secs_f32()).into_owned(),
        }),
    }
}

fn entry(service: &str, account: &str) -> keyring_core::Result<Entry> {
    let store = platform_store()?;
    Entry::new_in_store(&store, service, account)
}

impl KeyStore for OsKeyring {
    fn get(&self, service: &str, account: &str) -> Result<Option<String>, SecretError> {
        let (s, a) = (service.to_string(), account.to_string());
        with_timeout(move || match entry(&s, &a)?.get_password() {
            Ok(k) => Ok(Some(k)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })
    }

    fn set(&self, service: &str, account: &str, key: &str) -> Result<(), SecretError> {
        let (s, a, k) = (service.to_string(), account.to_string(), key.to_string());
        with_timeout(move || entry(&s, &a)?.set_password(&k))
    }

    fn delete(&self, service: &str, account: &str) -> Result<bool, SecretError> {
        let (s, a) = (service.to_string(), account.to_string());
        with_timeout(move || match entry(&s, &a)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(e),
        })
    }

    fn backend(&self) -> String {
        PLATFORM_STORE.to_string()
    }
}

/// An in-memory store for unit tests only.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct MemoryStore {
    keys: std::sync::Mutex<std::collections::HashMap<(String, String), String>>,
}

#[cfg(test)]
impl KeyStore for MemoryStore {
    fn get(&self, service: &str, account: &str) -> Result<Option<String>, SecretError> {
        let keys = self.keys.lock().unwrap();
        Ok(keys.get(&(service.into(), account.into())).cloned())
    }
    fn set(&self, service: &str, account: &str, key: &str) -> Result<(), SecretError> {
        let mut keys = self.keys.lock().unwrap();
        keys.insert((service.into(), account.into()), key.into());
        Ok(())
    }
    fn delete(&self, service: &str, account: &str) -> Result<bool, SecretError> {
        let mut keys = self.keys.lock().unwrap();
        Ok(keys.remove(&(service.into(), account.into())).is_some())
    }
    fn backend(&self) -> String {
        "memory (tests)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_encoding_errors_do_not_leak_the_stored_bytes() {
        let e = keyring_core::Error::BadEncoding(b"sk-secret-bytes".to_vec());
        assert!(!describe(&e).contains("secret"));
    }

    #[test]
    fn keyring_core_mock_is_not_what_the_binary_uses() {
        use keyring_core::api::CredentialStoreApi;
        // The mock store's vendor names itself; the platform store must not.
        let mock = keyring_core::mock::Store::new().unwrap();
        assert!(mock.vendor().to_lowercase().contains("mock"));
        #[cfg(all(unix, not(target_os = "macos")))]
        assert_eq!(PLATFORM_STORE, "Secret Service");
    }
}
