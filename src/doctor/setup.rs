//! The checks of the set-up on this machine: the config file (`config`), the admin's
//! policy (`policy`), the profile and where its key comes from (`profile`), the OS keyring
//! (`keyring`).
//!
//! The key is looked up exactly as every command looks it up (`secrets::resolve`); only
//! where it came from is said, never the key or any part of it.

use super::{Check, CheckId, Said, State, net, said};
use crate::config::ConfigError;
use crate::format::{Noun, counted};
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
        Err(e) => return Check::fail(id, said(|| e), said(|| config_fix(e))),
    };
    let path = setup.config.path.display();
    if !s.inputs.notes.is_empty() {
        let notes = s.inputs.notes.join("; ");
        return Check::warn(
            id,
            said(|| tr!("doctor.config.notes", path = path, notes = notes)),
            said(|| tr!("doctor.config.notes_fix")),
        );
    }
    if setup.config.file_exists {
        let f = &setup.config.file;
        Check::ok(
            id,
            said(|| {
                tr!(
                    "doctor.config.ok",
                    path = path,
                    profiles = counted(f.profiles.len(), Noun::Profile),
                    bases = counted(f.knowledge.len(), Noun::KnowledgeBase)
                )
            }),
        )
    } else {
        Check::ok(id, said(|| tr!("doctor.config.absent", path = path)))
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
            return Check::fail(id, said(|| e), said(|| tr!("doctor.policy.broken_fix")));
        }
        Err(_) => return Check::not_checked(id, CheckId::Config),
    };
    if !policy.in_force() {
        return Check::ok(
            id,
            said(|| {
                tr!(
                    "doctor.policy.none",
                    file = crate::config::policy::MACHINE_POLICY,
                    var = crate::config::policy::POLICY_ENV
                )
            }),
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
        said(|| {
            let rules = match rules.is_empty() {
                true => tr!("doctor.policy.no_rules").into_owned(),
                false => rules.join(&tr!("doctor.list_sep")),
            };
            tr!(
                "doctor.policy.in_force",
                files = files.join(&tr!("doctor.policy.and")),
                rules = rules
            )
        }),
    )
}

/// What to do about a config that does not load.
fn config_fix(e: &ConfigError) -> String {
    match e {
        ConfigError::Invalid { path, line, .. } => {
            tr!(
                "doctor.config.invalid_fix",
                path = path.display(),
                line = line
            )
        }
        ConfigError::Missing(_) => tr!("doctor.config.missing_fix"),
        ConfigError::Read { path, .. } => tr!("doctor.config.read_fix", path = path.display()),
        ConfigError::NoHome => tr!("doctor.config.no_home_fix"),
        ConfigError::UnknownProfile { name, path, .. } => tr!(
            "doctor.config.unknown_profile_fix",
            name = name,
            path = path.display()
        ),
        ConfigError::BadProfile { profile, .. } => {
            tr!("doctor.config.bad_profile_fix", profile = profile)
        }
        ConfigError::PolicyUnreadable { .. }
        | ConfigError::PolicyMissing(_)
        | ConfigError::BrokenPolicy(_) => tr!("doctor.policy.fix"),
        ConfigError::NotAllowed(_) => tr!("doctor.config.not_allowed_fix"),
    }
    .into_owned()
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
            return Check::fail(id, said(|| &e), said(|| config_fix(&e)));
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
                said(|| tr!("doctor.profile.bad_url", name = name, why = e)),
                said(|| tr!("doctor.profile.bad_url_fix", name = name)),
            );
        }
    };
    let model = setup.model.as_deref().unwrap_or(&profile.model);
    let which = said(|| {
        tr!(
            "doctor.profile.which",
            name = name,
            url = url,
            model = model
        )
    });
    let policy = &setup.config.policy;
    if let Err(denied) = policy
        .check_endpoint(&profile.base_url, url)
        .and_then(|()| policy.check_request_model(&profile.model, model))
    {
        s.profile = Err(id);
        s.key = Err(id);
        return Check::fail(
            id,
            said(|| tr!("doctor.profile.denied", which = which, denied = denied)),
            said(|| tr!("doctor.profile.denied_fix")),
        );
    }
    s.profile = Ok((profile.clone(), target));
    let want = secrets::KeyFor::profile(name, &profile, setup.base_url.as_deref());
    match secrets::resolve(&want, &secrets::process_env, &OsKeyring) {
        Ok((key, source)) => {
            let detail = said(|| tr!("doctor.profile.ok", which = which, source = source.label()));
            s.key = Ok((key, source));
            Check::ok(id, detail)
        }
        Err(e) => {
            s.key = Err(id);
            let check = Check::fail(
                id,
                said(|| tr!("doctor.profile.no_key", which = which, why = no_key(&e))),
                said(|| key_fix(name, &e)),
            );
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
        } => tr!("doctor.key.openai_skipped"),
        SecretError::NotFound { .. } => tr!("doctor.key.none"),
        SecretError::KeyringUnavailable { reason } => {
            tr!("doctor.key.keyring", reason = reason)
        }
        other => tr!("doctor.key.unusable", why = other),
    }
    .into_owned()
}

/// What to do to have a key.
fn key_fix(profile: &str, e: &SecretError) -> String {
    let login = tr!("doctor.key.login", profile = profile);
    match e {
        SecretError::Command { cmd, .. } => {
            tr!("doctor.key.command_fix", cmd = cmd, login = login)
        }
        SecretError::KeyringUnavailable { .. } => tr!("doctor.key.keyring_fix", login = login),
        _ => tr!("doctor.key.fix", login = login),
    }
    .into_owned()
}

/// `keyring`: the OS keyring answers. When the key comes from it, it was just read (so it
/// runs and is unlocked); when the key comes from elsewhere, it is only reached (nothing is
/// read, so nothing asks for an unlock) and a problem is at most a warning.
pub(super) fn keyring(s: &mut State<'_>) -> Check {
    let id = CheckId::Keyring;
    let backend = OsKeyring.backend();
    match (&s.key, &s.key_error) {
        (Ok((_, KeySource::Keyring)), _) => {
            Check::ok(id, said(|| tr!("doctor.keyring.ok", backend = backend)))
        }
        (_, Some(SecretError::KeyringUnavailable { reason })) => Check::fail(
            id,
            said(|| tr!("doctor.keyring.unusable", backend = backend, why = reason)),
            keyring_fix(),
        ),
        (Ok((_, source)), _) => {
            let used = said(|| tr!("doctor.keyring.not_used", source = source.label()));
            let reached = said(|| {
                tr!(
                    "doctor.keyring.reached_unused",
                    backend = backend,
                    used = used
                )
            });
            reach(reached, |why| {
                Check::warn(
                    id,
                    said(|| {
                        tr!(
                            "doctor.keyring.unreachable_unused",
                            backend = backend,
                            used = used,
                            why = why
                        )
                    }),
                    said(|| {
                        tr!(
                            "doctor.keyring.unreachable_unused_fix",
                            backend = backend,
                            source = source.label()
                        )
                    }),
                )
            })
        }
        (
            Err(_),
            Some(SecretError::Command { .. } | SecretError::Empty | SecretError::BadCharacters),
        ) => {
            // The key's problem is its command or its text, not the keyring.
            let reached = said(|| tr!("doctor.keyring.reached", backend = backend));
            reach(reached, |why| {
                Check::warn(
                    id,
                    said(|| tr!("doctor.keyring.unreachable", backend = backend, why = why)),
                    said(|| tr!("doctor.keyring.later_fix", fix = keyring_fix())),
                )
            })
        }
        (Err(_), Some(_)) => {
            // No key anywhere: the keyring is where `clerk auth login` puts it.
            let reached = said(|| tr!("doctor.keyring.empty", backend = backend));
            reach(reached, |why| {
                Check::fail(
                    id,
                    said(|| tr!("doctor.keyring.unreachable", backend = backend, why = why)),
                    keyring_fix(),
                )
            })
        }
        (Err(by), None) => Check::not_checked(id, *by),
    }
}

/// Reach the keyring without reading anything (so nothing asks to unlock it): passed with
/// `reached`, else the check `unreachable` makes of why.
fn reach(reached: Said, unreachable: impl FnOnce(Said) -> Check) -> Check {
    match secrets::keyring::platform_vendor_within(super::KEYRING_TIMEOUT) {
        Ok(_) => Check::ok(CheckId::Keyring, reached),
        Err(e) => unreachable(reason_of(&e)),
    }
}

fn reason_of(e: &SecretError) -> Said {
    match e {
        SecretError::KeyringUnavailable { reason } => Said::from(reason.clone()),
        other => said(|| other),
    }
}

fn keyring_fix() -> Said {
    if cfg!(any(target_os = "macos", windows)) {
        said(|| tr!("doctor.keyring.fix_desktop"))
    } else {
        said(|| tr!("doctor.keyring.fix_linux"))
    }
}
