//! `clerk config`: where things are, the effective settings, and a commented example.
//!
//! `show` masks anything that looks like a secret in custom headers; keys themselves are
//! never in the config.

use clap::Subcommand;

use super::{CliError, Ctx, Exit};
use crate::secrets::mask;

/// `clerk config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the config file, data, database and log paths
    Path,
    /// Print the effective configuration (defaults filled in, secrets masked)
    Show,
    /// Write a commented example config file
    Init {
        /// Overwrite an existing file
        #[arg(long)]
        force: bool,
    },
}

fn looks_secret(header: &str) -> bool {
    let h = header.to_ascii_lowercase();
    ["auth", "key", "token", "secret", "cookie", "password"]
        .iter()
        .any(|w| h.contains(w))
}

/// Every broken theme file in the user's themes folder, and a configured theme that does
/// not exist: the app would start with the default theme instead.
pub(super) fn theme_problems(ctx: &Ctx) -> Vec<String> {
    let (themes, errors) = crate::ui::theme::load_all(Some(&ctx.themes_dir()));
    let mut out: Vec<String> = errors.iter().map(ToString::to_string).collect();
    if let Some(name) = &ctx.config.file.theme
        && !themes.iter().any(|t| &t.name == name)
    {
        out.push(format!(
            "theme = \"{name}\" in {}: there is no such theme; the app uses {}",
            ctx.paths.config_file.display(),
            crate::ui::theme::DEFAULT_THEME
        ));
    }
    out
}

/// The admin's policy in force, for `config show`: a `[policy]` table, each rule with the
/// file it came from; or where a policy would be.
fn policy_text(policy: &crate::config::Policy) -> String {
    use crate::config::policy::{MACHINE_POLICY, POLICY_ENV};
    if !policy.in_force() {
        return format!(
            "\n# no admin policy: {MACHINE_POLICY} does not exist and {POLICY_ENV} is not set\n"
        );
    }
    let files: Vec<String> = policy
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let mut out = format!(
        "\n# the admin's policy, from {}: it wins over everything above (docs/admin.md)\n[policy]\n",
        files.join(" and ")
    );
    let rules = policy.rules();
    if rules.is_empty() {
        out.push_str("# (no rules)\n");
    }
    for r in rules {
        out.push_str(&format!(
            "{} = {}  # from {}\n",
            r.key,
            r.value,
            r.from.display()
        ));
    }
    out
}

/// Run `clerk config …`.
pub fn run(ctx: &Ctx, cmd: &ConfigCommand) -> Result<Exit, CliError> {
    match cmd {
        ConfigCommand::Path => {
            let exists = if ctx.config.file_exists {
                ""
            } else {
                " (not created yet: defaults apply)"
            };
            println!("config:   {}{exists}", ctx.paths.config_file.display());
            println!("data:     {}", ctx.paths.data_dir.display());
            println!("database: {}", ctx.paths.database().display());
            println!("knowledge index: {}", ctx.paths.knowledge_index().display());
            println!("log:      {}", ctx.paths.log_file().display());
        }
        ConfigCommand::Show => {
            let mut file = ctx.config.file.clone();
            for profile in file.profiles.values_mut() {
                if let Some(proxy) = &profile.proxy {
                    profile.proxy = Some(crate::config::network::without_password(proxy));
                }
                for (name, value) in profile.headers.iter_mut() {
                    if looks_secret(name) {
                        *value = mask(value);
                    }
                }
            }
            let mut models = std::collections::BTreeMap::new();
            for (name, info) in ctx.config.models.iter() {
                models.insert(name.clone(), info.clone());
            }
            file.models = models;
            file.default_profile = Some(ctx.profile_name.clone());
            let text = toml::to_string_pretty(&file).map_err(|e| {
                CliError::new(Exit::Failure, format!("cannot show the config: {e}"))
            })?;
            println!(
                "# effective configuration (from {})\n{text}",
                ctx.paths.config_file.display()
            );
            print!("{}", policy_text(&ctx.config.policy));
            for problem in theme_problems(ctx) {
                eprintln!("warning: {problem}");
            }
        }
        ConfigCommand::Init { force } => {
            let path = &ctx.paths.config_file;
            if path.exists() && !force {
                return Err(CliError::new(
                    Exit::BadInput,
                    format!(
                        "{} already exists; use --force to overwrite it",
                        path.display()
                    ),
                ));
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    CliError::new(
                        Exit::Failure,
                        format!("cannot create {}: {e}", dir.display()),
                    )
                })?;
            }
            std::fs::write(path, crate::config::EXAMPLE).map_err(|e| {
                CliError::new(
                    Exit::Failure,
                    format!("cannot write {}: {e}", path.display()),
                )
            })?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(Exit::Ok)
}
