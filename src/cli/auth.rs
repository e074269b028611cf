//! `clerk auth`: store, check and remove the API key in the OS keyring.
//!
//! The key is read with hidden input (or from stdin when it is not a terminal), checked
//! with one `GET /models`, and stored under service `clerk`, account = profile name. It is
//! only ever printed masked.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;

use super::{CliError, Ctx, Exit};
use crate::secrets::{self, ApiKey, KeyStore, OsKeyring, SERVICE};

/// `clerk auth …`
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Store the API key for a profile in the OS keyring (read from a hidden prompt or stdin)
    Login {
        /// Store without checking the key against the endpoint
        #[arg(long)]
        no_verify: bool,
    },
    /// Show where each profile's key comes from, masked, and whether it works
    Status {
        /// Do not contact the endpoints
        #[arg(long)]
        offline: bool,
    },
    /// Remove the profile's key from the OS keyring
    Logout,
}

/// Run `clerk auth …`.
pub fn run(ctx: &Ctx, cmd: &AuthCommand) -> Result<Exit, CliError> {
    match cmd {
        AuthCommand::Login { no_verify } => login(ctx, *no_verify),
        AuthCommand::Status { offline } => status(ctx, *offline),
        AuthCommand::Logout => {
            let removed = OsKeyring.delete(SERVICE, &ctx.profile_name)?;
            if removed {
                eprintln!(
                    "removed the key of profile `{}` from the {} keyring",
                    ctx.profile_name,
                    OsKeyring.backend()
                );
            } else {
                eprintln!("profile `{}` had no key in the keyring", ctx.profile_name);
            }
            Ok(Exit::Ok)
        }
    }
}

fn read_key(profile: &str) -> Result<ApiKey, CliError> {
    let raw = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("API key for profile `{profile}` (input hidden): "))
            .map_err(|e| CliError::new(Exit::BadInput, format!("cannot read the key: {e}")))?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            CliError::new(
                Exit::BadInput,
                format!("cannot read the key from stdin: {e}"),
            )
        })?;
        line
    };
    ApiKey::new(&raw).map_err(|e| CliError::new(Exit::BadInput, e.to_string()))
}

fn login(ctx: &Ctx, no_verify: bool) -> Result<Exit, CliError> {
    let profile = ctx.profile()?.clone();
    let key = read_key(&ctx.profile_name)?;
    if !no_verify {
        let endpoint = ctx.endpoint(&profile, &key)?;
        let rt = super::runtime()?;
        match rt.block_on(endpoint.list_models()) {
            Ok(models) => eprintln!(
                "the key works ({} models available at {})",
                models.len(),
                endpoint.base_url()
            ),
            Err(e) => {
                let mut err: CliError = e.into();
                err.message = format!(
                    "the key was not stored: {}\n(use --no-verify to store it anyway)",
                    err.message
                );
                return Err(err);
            }
        }
    }
    OsKeyring.set(SERVICE, &ctx.profile_name, key.expose())?;
    eprintln!(
        "stored the key {} for profile `{}` in the {} keyring",
        key.masked(),
        ctx.profile_name,
        OsKeyring.backend()
    );
    if let Ok(p) = ctx.profile()
        && let Some(cmd) = &p.api_key_cmd
    {
        eprintln!(
            "note: profile `{}` has api_key_cmd (`{cmd}`), which is used before the keyring; remove it from the profile to use this key",
            ctx.profile_name
        );
    }
    if std::env::var_os(secrets::OVERRIDE_VAR).is_some() {
        eprintln!("note: CLERK_API_KEY is set and takes precedence over the keyring");
    }
    Ok(Exit::Ok)
}

fn status(ctx: &Ctx, offline: bool) -> Result<Exit, CliError> {
    match secrets::keyring::platform_vendor() {
        Ok(vendor) => println!("keyring: {vendor}"),
        Err(secrets::SecretError::KeyringUnavailable { reason }) => println!(
            "keyring: {} — not available: {}",
            OsKeyring.backend(),
            reason.split_whitespace().collect::<Vec<_>>().join(" ")
        ),
        Err(e) => println!("keyring: {} — not available: {e}", OsKeyring.backend()),
    }
    let names: Vec<String> =
        if ctx.config.file.profiles.len() > 1 && std::env::var_os("CLERK_PROFILE").is_none() {
            ctx.config.file.profiles.keys().cloned().collect()
        } else {
            vec![ctx.profile_name.clone()]
        };
    let rt = if offline {
        None
    } else {
        Some(super::runtime()?)
    };
    // The exit code speaks for the profile clerk would use; the others are informative.
    let mut active_ok = true;
    for name in names {
        let active = name == ctx.profile_name;
        let mut all_ok = true;
        let profile = match ctx.config.profile(&name) {
            Ok(p) => p.clone(),
            Err(e) => {
                println!("{name}: {e}");
                active_ok &= !active;
                continue;
            }
        };
        match secrets::resolve(
            &secrets::KeyFor::profile(&name, &profile, ctx.base_url.as_deref()),
            &secrets::process_env,
            &OsKeyring,
        ) {
            Ok((key, source)) => {
                let works = match &rt {
                    None => "not checked".to_string(),
                    Some(rt) => match ctx.endpoint(&profile, &key) {
                        Ok(ep) => match rt.block_on(ep.list_models()) {
                            Ok(m) => format!(
                                "works ({} model{} offered)",
                                m.len(),
                                if m.len() == 1 { "" } else { "s" }
                            ),
                            Err(e) => {
                                all_ok = false;
                                format!("does not work: {e}")
                            }
                        },
                        Err(e) => {
                            all_ok = false;
                            format!("does not work: {}", e.message)
                        }
                    },
                };
                println!("{name}: {} from {source} — {works}", key.masked());
            }
            Err(e) => {
                all_ok = false;
                println!("{name}: no key — {e}");
            }
        }
        if active && !all_ok {
            active_ok = false;
        }
    }
    Ok(if active_ok { Exit::Ok } else { Exit::Auth })
}
