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
        out.push(
            tr!(
                "cli.config.no_theme",
                name = name,
                path = ctx.paths.config_file.display(),
                default = crate::ui::theme::DEFAULT_THEME
            )
            .into_owned(),
        );
    }
    out
}

/// The admin's policy in force, for `config show`: a `[policy]` table, each rule with the
/// file it came from; or where a policy would be.
fn policy_text(policy: &crate::config::Policy) -> String {
    use crate::config::policy::{MACHINE_POLICY, POLICY_ENV};
    if !policy.in_force() {
        let text = tr!(
            "cli.config.no_policy",
            file = MACHINE_POLICY,
            var = POLICY_ENV
        );
        return format!("\n# {text}\n");
    }
    let files: Vec<String> = policy
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let from = tr!(
        "cli.config.policy_from",
        files = files.join(&tr!("cli.and"))
    );
    let mut out = format!("\n# {from}\n[policy]\n");
    let rules = policy.rules();
    if rules.is_empty() {
        out.push_str(&format!("# {}\n", tr!("cli.config.no_rules")));
    }
    for r in rules {
        out.push_str(&format!(
            "{} = {}  # {}\n",
            r.key,
            r.value,
            tr!("cli.config.rule_from", path = r.from.display())
        ));
    }
    out
}

/// Run `clerk config …`.
pub fn run(ctx: &Ctx, cmd: &ConfigCommand) -> Result<Exit, CliError> {
    match cmd {
        ConfigCommand::Path => {
            let exists = match ctx.config.file_exists {
                true => String::new(),
                false => tr!("cli.config.not_created").into_owned(),
            };
            let config = ctx.paths.config_file.display();
            println!(
                "{}",
                tr!("cli.config.path.config", path = config, note = exists)
            );
            let data = ctx.paths.data_dir.display();
            println!("{}", tr!("cli.config.path.data", path = data));
            let database = ctx.paths.database();
            println!(
                "{}",
                tr!("cli.config.path.database", path = database.display())
            );
            let index = ctx.paths.knowledge_index();
            println!(
                "{}",
                tr!("cli.config.path.knowledge", path = index.display())
            );
            let log = ctx.paths.log_file();
            println!("{}", tr!("cli.config.path.log", path = log.display()));
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
            if file.language.is_none() {
                file.language = Some("auto".to_string());
            }
            let text = toml::to_string_pretty(&file).map_err(|e| {
                CliError::new(Exit::Failure, tr!("cli.config.cannot_show", error = e))
            })?;
            let language = crate::i18n::current();
            println!(
                "# {}\n# {}\n{text}",
                tr!(
                    "cli.config.effective",
                    path = ctx.paths.config_file.display()
                ),
                tr!(
                    "cli.config.language_in_force",
                    name = tr!("language.name"),
                    code = language.code()
                )
            );
            print!("{}", policy_text(&ctx.config.policy));
            for problem in theme_problems(ctx) {
                eprintln!("{}", tr!("cli.warning", text = problem));
            }
        }
        ConfigCommand::Init { force } => {
            let path = &ctx.paths.config_file;
            if path.exists() && !force {
                return Err(CliError::new(
                    Exit::BadInput,
                    tr!("cli.config.exists", path = path.display()),
                ));
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    CliError::new(
                        Exit::Failure,
                        tr!("cli.cannot_create", path = dir.display(), error = e),
                    )
                })?;
            }
            std::fs::write(path, crate::config::EXAMPLE).map_err(|e| {
                CliError::new(
                    Exit::Failure,
                    tr!("cli.cannot_write", path = path.display(), error = e),
                )
            })?;
            eprintln!("{}", tr!("cli.wrote", path = path.display()));
        }
    }
    Ok(Exit::Ok)
}
