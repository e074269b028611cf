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
                let text = tr!(
                    "cli.auth.removed",
                    profile = ctx.profile_name,
                    keyring = OsKeyring.backend()
                );
                eprintln!("{text}");
            } else {
                eprintln!("{}", tr!("cli.auth.had_none", profile = ctx.profile_name));
            }
            Ok(Exit::Ok)
        }
    }
}

fn read_key(profile: &str) -> Result<ApiKey, CliError> {
    let raw = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(tr!("cli.auth.prompt", profile = profile).into_owned())
            .map_err(|e| CliError::new(Exit::BadInput, tr!("cli.auth.cannot_read", error = e)))?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            CliError::new(Exit::BadInput, tr!("cli.auth.cannot_read_stdin", error = e))
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
                "{}",
                tr!(
                    "cli.auth.works_at",
                    count = models.len(),
                    url = endpoint.base_url()
                )
            ),
            Err(e) => {
                let mut err: CliError = e.into();
                err.message = tr!("cli.auth.not_stored", error = err.message).into_owned();
                return Err(err);
            }
        }
    }
    OsKeyring.set(SERVICE, &ctx.profile_name, key.expose())?;
    let text = tr!(
        "cli.auth.stored",
        key = key.masked(),
        profile = ctx.profile_name,
        keyring = OsKeyring.backend()
    );
    eprintln!("{text}");
    if let Ok(p) = ctx.profile()
        && let Some(cmd) = &p.api_key_cmd
    {
        let text = tr!("cli.auth.cmd_first", profile = ctx.profile_name, cmd = cmd);
        eprintln!("{}", tr!("cli.note", text = text));
    }
    if std::env::var_os(secrets::OVERRIDE_VAR).is_some() {
        eprintln!("{}", tr!("cli.note", text = tr!("cli.auth.env_first")));
    }
    Ok(Exit::Ok)
}

fn status(ctx: &Ctx, offline: bool) -> Result<Exit, CliError> {
    match secrets::keyring::platform_vendor() {
        Ok(vendor) => println!("{}", tr!("cli.auth.keyring", name = vendor)),
        Err(secrets::SecretError::KeyringUnavailable { reason }) => println!(
            "{}",
            tr!(
                "cli.auth.keyring_unavailable",
                name = OsKeyring.backend(),
                reason = reason.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        ),
        Err(e) => println!(
            "{}",
            tr!(
                "cli.auth.keyring_unavailable",
                name = OsKeyring.backend(),
                reason = e
            )
        ),
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
                    None => tr!("cli.auth.not_checked").into_owned(),
                    Some(rt) => match ctx.endpoint(&profile, &key) {
                        Ok(ep) => match rt.block_on(ep.list_models()) {
                            Ok(m) if m.len() == 1 => tr!("cli.auth.works_one").into_owned(),
                            Ok(m) => tr!("cli.auth.works", count = m.len()).into_owned(),
                            Err(e) => {
                                all_ok = false;
                                tr!("cli.auth.fails", error = e).into_owned()
                            }
                        },
                        Err(e) => {
                            all_ok = false;
                            tr!("cli.auth.fails", error = e.message).into_owned()
                        }
                    },
                };
                let text = tr!(
                    "cli.auth.status_line",
                    name = name,
                    key = key.masked(),
                    source = source.label(),
                    works = works
                );
                println!("{text}");
            }
            Err(e) => {
                all_ok = false;
                println!("{}", tr!("cli.auth.no_key", name = name, error = e));
            }
        }
        if active && !all_ok {
            active_ok = false;
        }
    }
    Ok(if active_ok { Exit::Ok } else { Exit::Auth })
}
