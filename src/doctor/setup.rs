//! The checks of the set-up on this machine: the config file (`config`), the admin's
//! policy (`policy`), the profile and where its key comes from (`profile`), the OS keyring
//! (`keyring`).
//!
//! The key is looked up exactly as every command looks it up (`secrets::resolve`); only
//! where it came from is said, never the key or any part of it.

use super::{Check, CheckId, State, net};
use crate::config::ConfigError;
use crate::secrets::{self, KeySource, KeyStore, OsKeyring, SecretError};

/// `config`: the config file parses (a failure names its file, line and key); problems in
/// the other config files (themes, key bindings) are warnings, as the app starts with its
/// defaults instead.
pub(super) fn config(s: &mut State<'_>) -> Check {
    let id = CheckId::Config;
    let setup = match &s.inputs.setup {
        Ok(setup) => setup,
        // The policy is read first; while it is broken the config is not read at all.
        Err(e) if is_policy_error(e) => return Check::not_checked(id, CheckId::Policy),
        Err(e) => return Check::fail(id, e.to_string(), config_fix(e)),
    };
    let path = setup.config.path.display();
    if !s.inputs.notes.is_empty() {
        return Check::warn(
            id,
            format!("{path} parses, but: {}", s.inputs.notes.join("; ")),
            "fix the files named (until then the app uses its defaults for them)",
        );
    }
    if setup.config.file_exists {
        let f = &setup.config.file;
        Check::ok(
            id,
            format!(
                "{path}: {}, {}",
                crate::format::counted(f.profiles.len(), "profile"),
                crate::format::counted(f.knowledge.len(), "knowledge base")
            ),
        )
    } else {
        Check::ok(
            id,
            format!("{path} does not exist: the built-in defaults apply"),
        )
    }
}

fn is_policy_error(e: &ConfigError) -> bool {
    matches!(
        e,
        ConfigError::PolicyUnreadable { .. }
            | ConfigError::PolicyMissing(_)
            | ConfigError::BrokenPolicy(_)
    )
}

/// `policy`: the admin's policy files in force and each rule with the file it came from;
/// none is fine. A broken or unreadable policy fails: clerk refuses to run with it.
pub(super) fn policy(s: &mut State<'_>) -> Check {
    let id = CheckId::Policy;
    let policy = match &s.inputs.setup {
        Ok(setup) => &setup.config.policy,
        Err(e) if is_policy_error(e) => {
            return Check::fail(
                id,
                e.to_string(),
                "ask your IT administrator to fix the policy file named (`CLERK_POLICY` names an extra one: unset it if it is yours)",
            );
        }
        Err(_) => return Check::not_checked(id, CheckId::Config),
    };
    if !policy.in_force() {
        return Check::ok(
            id,
            format!(
                "none in force ({} does not exist; {} is not set)",
                crate::config::policy::MACHINE_POLICY,
                crate::config::policy::POLICY_ENV
            ),
        );
    }
    let files: Vec<String> = policy
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let rules: Vec<String> = policy
        .rules()
        .iter()
        .map(|r| format!("{} = {} ({})", r.key, r.value, r.from.display()))
        .collect();
    Check::ok(
        id,
        format!(
            "in force from {}: {}",
            files.join(" and "),
            if rules.is_empty() {
                "no rules".to_string()
            } else {
                rules.join("; ")
            }
        ),
    )
}

/// What to do about a config that does not load.
fn config_fix(e: &ConfigError) -> String {
    match e {
        ConfigError::Invalid { path, line, .. } => format!(
            "edit {} at line {line} (`clerk config show` prints the settings in force once it loads)",
            path.display()
        ),
        ConfigError::Missing(_) => {
            "create it with `clerk config init`, or fix the path given with --config or CLERK_CONFIG"
                .to_string()
        }
        ConfigError::Read { path, .. } => format!(
            "make {} readable by you (or move it aside to use the defaults)",
            path.display()
        ),
        ConfigError::NoHome => "set HOME, or use --config and CLERK_DATA_DIR".to_string(),
        ConfigError::UnknownProfile { name, path, .. } => {
            format!("add [profiles.{name}] to {}, or pick another --profile", path.display())
        }
        ConfigError::BadProfile { profile, .. } => {
            format!("fix [profiles.{profile}] in the config file")
        }
        ConfigError::PolicyUnreadable { .. }
        | ConfigError::PolicyMissing(_)
        | ConfigError::BrokenPolicy(_) => "ask your IT administrator to fix the policy file named".to_string(),
        ConfigError::NotAllowed(_) => {
            "use what the admin's policy allows (`clerk config show` lists its rules)".to_string()
        }
    }
}

/// `profile`: the profile in use is valid, where its requests go, and where its key comes
/// from (environment, `api_key_cmd` or keyring). No key is a failure.
pub(super) fn profile(s: &mut State<'_>) -> Check {
    let id = CheckId::Profile;
    let setup = match s.setup() {
        Ok(setup) => setup,
        Err(by) => {
            s.profile = Err(by);
            s.key = Err(by);
            return Check::not_checked(id, by);
        }
    };
    let name = setup.profile.as_str();
    let profile = match setup.config.profile(name) {
        Ok(p) => p.clone(),
        Err(e) => {
            s.profile = Err(id);
            s.key = Err(id);
            return Check::fail(id, e.to_string(), config_fix(&e));
        }
    };
    let url = setup.base_url.as_deref().unwrap_or(&profile.base_url);
    let target = match net::Target::parse(url) {
        Ok(t) => t,
        Err(e) => {
            s.profile = Err(id);
            s.key = Err(id);
            return Check::fail(
                id,
                format!("profile `{name}`: {e}"),
                format!("fix base_url in [profiles.{name}] (or --base-url / OPENAI_BASE_URL)"),
            );
        }
    };
    let model = setup.model.as_deref().unwrap_or(&profile.model);
    let which = format!("profile `{name}`: {url}, model {model}");
    let policy = &setup.config.policy;
    if let Err(denied) = policy
        .check_endpoint(&profile.base_url, url)
        .and_then(|()| policy.check_request_model(&profile.model, model))
    {
        s.profile = Err(id);
        s.key = Err(id);
        return Check::fail(
            id,
            format!("{which}: {denied}"),
            "use an endpoint and a model the admin's policy allows (`clerk config show` lists its rules)",
        );
    }
    s.profile = Ok((profile.clone(), target));
    let want = secrets::KeyFor::profile(name, &profile, setup.base_url.as_deref());
    match secrets::resolve(&want, &secrets::process_env, &OsKeyring) {
        Ok((key, source)) => {
            let detail = format!("{which}; the key comes from {source}");
            s.key = Ok((key, source));
            Check::ok(id, detail)
        }
        Err(e) => {
            s.key = Err(id);
            let check = Check::fail(id, format!("{which}; {}", no_key(&e)), key_fix(name, &e));
            s.key_error = Some(e);
            check
        }
    }
}

/// Why there is no key, without the advice (that is the fix).
fn no_key(e: &SecretError) -> String {
    match e {
        SecretError::NotFound {
            openai_skipped: true,
            ..
        } => "no API key (OPENAI_API_KEY is set, but it is OpenAI's and this endpoint is not)"
            .to_string(),
        SecretError::NotFound { .. } => {
            "no API key: none in the environment, no api_key_cmd, none in the keyring".to_string()
        }
        SecretError::KeyringUnavailable { reason } => {
            format!("no API key: the keyring cannot be read ({reason})")
        }
        other => format!("no usable API key: {other}"),
    }
}

/// What to do to have a key.
fn key_fix(profile: &str, e: &SecretError) -> String {
    let login = format!("run `clerk auth login --profile {profile}`");
    match e {
        SecretError::Command { cmd, .. } => format!(
            "run `{cmd}` in a shell to see why it fails, fix it or remove api_key_cmd from the profile and {login}"
        ),
        SecretError::KeyringUnavailable { .. } => format!(
            "unlock or start the keyring and {login}; or set api_key_cmd in the profile (e.g. `pass show openai`), or CLERK_API_KEY"
        ),
        _ => format!("{login} (or set api_key_cmd in the profile, or CLERK_API_KEY for one run)"),
    }
}

/// `keyring`: the OS keyring answers. When the key comes from it, it was just read (so it
/// runs and is unlocked); when the key comes from elsewhere, it is only reached (nothing is
/// read, so nothing asks for an unlock) and a problem is at most a warning.
pub(super) fn keyring(s: &mut State<'_>) -> Check {
    let id = CheckId::Keyring;
    let backend = OsKeyring.backend();
    match (&s.key, &s.key_error) {
        (Ok((_, KeySource::Keyring)), _) => Check::ok(
            id,
            format!("{backend}: running and unlocked (the profile's key was read from it)"),
        ),
        (_, Some(SecretError::KeyringUnavailable { reason })) => Check::fail(
            id,
            format!("{backend} cannot be used: {reason}"),
            keyring_fix(),
        ),
        (Ok((_, source)), _) => {
            let used = format!("not used: the key comes from {source}");
            reach(format!("{backend}: reachable ({used})"), |why| {
                Check::warn(
                    id,
                    format!("{backend} cannot be reached ({used}): {why}"),
                    format!(
                        "nothing to do while the key comes from {source}; to keep the key in the keyring instead, run `clerk auth login` once the {backend} runs"
                    ),
                )
            })
        }
        (
            Err(_),
            Some(SecretError::Command { .. } | SecretError::Empty | SecretError::BadCharacters),
        ) => {
            // The key's problem is its command or its text, not the keyring.
            reach(format!("{backend}: reachable"), |why| {
                Check::warn(
                    id,
                    format!("{backend} cannot be reached: {why}"),
                    format!(
                        "it does not matter until the key is fixed (see `profile`); {}",
                        keyring_fix()
                    ),
                )
            })
        }
        (Err(_), Some(_)) => {
            // No key anywhere: the keyring is where `clerk auth login` puts it.
            reach(
                format!("{backend}: reachable, but it holds no key for this profile"),
                |why| {
                    Check::fail(
                        id,
                        format!("{backend} cannot be reached: {why}"),
                        keyring_fix(),
                    )
                },
            )
        }
        (Err(by), None) => Check::not_checked(id, *by),
    }
}

/// Reach the keyring without reading anything (so nothing asks to unlock it): passed with
/// `reached`, else the check `unreachable` makes of why.
fn reach(reached: String, unreachable: impl FnOnce(String) -> Check) -> Check {
    match secrets::keyring::platform_vendor_within(super::KEYRING_TIMEOUT) {
        Ok(_) => Check::ok(CheckId::Keyring, reached),
        Err(e) => unreachable(reason_of(&e)),
    }
}

fn reason_of(e: &SecretError) -> String {
    match e {
        SecretError::KeyringUnavailable { reason } => reason.clone(),
        other => other.to_string(),
    }
}

fn keyring_fix() -> String {
    if cfg!(any(target_os = "macos", windows)) {
        "check that you are logged in to a desktop session that can use the keychain or credential manager"
            .to_string()
    } else {
        "on Linux clerk uses the Secret Service (GNOME Keyring, KWallet): start it in your session and unlock it; over SSH or in a container, use api_key_cmd or CLERK_API_KEY instead"
            .to_string()
    }
}
