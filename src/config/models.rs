//! What clerk knows about models: context window, output limit and price.
//!
//! The built-in table lives here and only here; the user's config overrides or extends
//! it (`[models."name"]`). Prices change: never write a price anywhere else in the code.
//! An unknown model has an unknown cost, never a zero one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Facts about one model. Every field is optional so a config entry can override just one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelInfo {
    /// Context window in tokens (prompt + answer).
    pub context_window: Option<u64>,
    /// Largest answer the model can give, in tokens.
    pub max_output_tokens: Option<u64>,
    /// USD per million input tokens.
    pub input_per_million: Option<f64>,
    /// USD per million cached input tokens.
    pub cached_input_per_million: Option<f64>,
    /// USD per million output tokens.
    pub output_per_million: Option<f64>,
}

impl ModelInfo {
    fn overlay(&mut self, over: &ModelInfo) {
        if over.context_window.is_some() {
            self.context_window = over.context_window;
        }
        if over.max_output_tokens.is_some() {
            self.max_output_tokens = over.max_output_tokens;
        }
        if over.input_per_million.is_some() {
            self.input_per_million = over.input_per_million;
        }
        if over.cached_input_per_million.is_some() {
            self.cached_input_per_million = over.cached_input_per_million;
        }
        if over.output_per_million.is_some() {
            self.output_per_million = over.output_per_million;
        }
    }

    /// Cost in USD of one request, or `None` when a needed price is unknown.
    /// `cached` tokens are part of `input` and billed at the cached price.
    pub fn cost(&self, input: u64, cached: u64, output: u64) -> Option<f64> {
        let in_price = self.input_per_million?;
        let out_price = self.output_per_million?;
        let cached = cached.min(input);
        let cached_price = if cached == 0 {
            0.0
        } else {
            self.cached_input_per_million?
        };
        let uncached = (input - cached) as f64;
        Some((uncached * in_price + cached as f64 * cached_price + output as f64 * out_price) / 1e6)
    }
}

fn builtin(ctx: u64, out: u64, input: f64, cached: f64, output: f64) -> ModelInfo {
    ModelInfo {
        context_window: Some(ctx),
        max_output_tokens: Some(out),
        input_per_million: Some(input),
        cached_input_per_million: Some(cached),
        output_per_million: Some(output),
    }
}

/// The built-in table (USD per million tokens, as published by OpenAI).
pub fn builtin_models() -> BTreeMap<String, ModelInfo> {
    let mut m = BTreeMap::new();
    m.insert(
        "gpt-4o-mini".into(),
        builtin(128_000, 16_384, 0.15, 0.075, 0.60),
    );
    m.insert("gpt-4o".into(), builtin(128_000, 16_384, 2.50, 1.25, 10.00));
    m.insert(
        "gpt-4.1".into(),
        builtin(1_047_576, 32_768, 2.00, 0.50, 8.00),
    );
    m.insert(
        "gpt-4.1-mini".into(),
        builtin(1_047_576, 32_768, 0.40, 0.10, 1.60),
    );
    m.insert(
        "gpt-4.1-nano".into(),
        builtin(1_047_576, 32_768, 0.10, 0.025, 0.40),
    );
    m
}

/// The merged table: built-ins overlaid with the user's entries.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTable {
    models: BTreeMap<String, ModelInfo>,
}

impl ModelTable {
    /// Built-ins overlaid with `user` (field by field).
    pub fn new(user: &BTreeMap<String, ModelInfo>) -> Self {
        let mut models = builtin_models();
        for (name, info) in user {
            models.entry(name.clone()).or_default().overlay(info);
        }
        ModelTable { models }
    }

    /// Look a model up by exact name, then without a dated snapshot suffix
    /// (`gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`).
    pub fn get(&self, model: &str) -> Option<&ModelInfo> {
        if let Some(info) = self.models.get(model) {
            return Some(info);
        }
        let base = strip_date_suffix(model)?;
        self.models.get(base)
    }

    /// No built-in model priced below the built-in table: the user's lower prices of those
    /// models are raised back (what an admin policy's budgets are weighed with, so a
    /// budget cannot be loosened by calling a model cheap). Models the table does not know
    /// keep the user's prices.
    pub fn no_cheaper_than_builtin(&mut self) {
        for (name, floor) in builtin_models() {
            let Some(info) = self.models.get_mut(&name) else {
                continue;
            };
            for (price, least) in [
                (&mut info.input_per_million, floor.input_per_million),
                (
                    &mut info.cached_input_per_million,
                    floor.cached_input_per_million,
                ),
                (&mut info.output_per_million, floor.output_per_million),
            ] {
                if let Some(least) = least {
                    *price = Some(price.map_or(least, |p| p.max(least)));
                }
            }
        }
    }

    /// All entries, for `clerk config show`.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &ModelInfo)> {
        self.models.iter()
    }
}

/// One model as the picker and `clerk models` show it: what the price table knows, and
/// whether the endpoint offers it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    /// The model's name as the endpoint knows it.
    pub name: String,
    /// Facts from the price table (`None`: the table does not know it: cost unknown).
    pub info: Option<ModelInfo>,
    /// Whether the endpoint's `/models` lists it (`None`: that list is not known).
    pub offered: Option<bool>,
}

/// The models to choose from: those the endpoint offers (`offered`, its `/models`, when
/// known) and those the price table knows, each once. Offered models come first — priced
/// ones before unpriced — then the table's models the endpoint does not offer; by name
/// within each group.
pub fn catalog(table: &ModelTable, offered: Option<&[String]>) -> Vec<CatalogEntry> {
    let mut out: Vec<CatalogEntry> = Vec::new();
    if let Some(names) = offered {
        for name in names {
            if out.iter().any(|e| e.name == *name) {
                continue;
            }
            out.push(CatalogEntry {
                name: name.clone(),
                info: table.get(name).cloned(),
                offered: Some(true),
            });
        }
    }
    for (name, info) in table.iter() {
        if out.iter().any(|e| e.name == *name) {
            continue;
        }
        out.push(CatalogEntry {
            name: name.clone(),
            info: Some(info.clone()),
            offered: offered.map(|_| false),
        });
    }
    let rank = |e: &CatalogEntry| {
        let priced = e
            .info
            .as_ref()
            .is_some_and(|i| i.input_per_million.is_some() && i.output_per_million.is_some());
        match (e.offered, priced) {
            (Some(false), _) => 2,
            (_, true) => 0,
            (_, false) => 1,
        }
    };
    out.sort_unstable_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.name.cmp(&b.name)));
    out
}

/// `$0.15/$0.60` (USD per million input / output tokens), or `price unknown`.
pub fn format_prices(info: Option<&ModelInfo>) -> String {
    // Cents as cents ($0.60), finer prices whole ($0.075).
    let usd = |p: f64| {
        if ((p * 100.0).round() - p * 100.0).abs() < 1e-9 {
            format!("${p:.2}")
        } else {
            format!("${p}")
        }
    };
    match info.and_then(|i| Some((i.input_per_million?, i.output_per_million?))) {
        Some((i, o)) => format!("{}/{}", usd(i), usd(o)),
        None => tr!("money.price_unknown").into_owned(),
    }
}

/// `$0.000123` with enough digits to be non-zero, or `cost unknown`.
pub fn format_usd(cost: Option<f64>) -> String {
    match cost {
        None => tr!("money.cost_unknown").into_owned(),
        Some(c) if c >= 0.01 => format!("${c:.2}"),
        Some(c) if c <= 0.0 => "$0".to_string(),
        Some(c) => format!("${c:.6}"),
    }
}

/// `name-YYYY-MM-DD` → `name`.
fn strip_date_suffix(model: &str) -> Option<&str> {
    let (base, date) = model.len().checked_sub(11).map(|i| model.split_at(i))?;
    let bytes = date.as_bytes();
    let shape = bytes.len() == 11
        && bytes[0] == b'-'
        && bytes[5] == b'-'
        && bytes[8] == b'-'
        && [1, 2, 3, 4, 6, 7, 9, 10]
            .iter()
            .all(|&i| bytes[i].is_ascii_digit());
    shape.then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt_4o_mini_prices_are_the_published_ones() {
        let table = ModelTable::new(&BTreeMap::new());
        let m = table.get("gpt-4o-mini").unwrap();
        // 1M uncached input + 1M output = 0.15 + 0.60
        assert!((m.cost(1_000_000, 0, 1_000_000).unwrap() - 0.75).abs() < 1e-12);
        // 1M input of which all cached = 0.075
        assert!((m.cost(1_000_000, 1_000_000, 0).unwrap() - 0.075).abs() < 1e-12);
        assert_eq!(m.context_window, Some(128_000));
        assert_eq!(m.max_output_tokens, Some(16_384));
    }

    #[test]
    fn the_catalog_merges_the_endpoints_models_with_the_price_table() {
        let table = ModelTable::new(&BTreeMap::new());
        // Not known yet: the table alone, priced, in name order, not marked.
        let all = catalog(&table, None);
        assert_eq!(all.len(), builtin_models().len());
        assert!(all.iter().all(|e| e.offered.is_none() && e.info.is_some()));
        // A gateway offering one priced model, a dated snapshot and a local model.
        let offered = vec![
            "llama3.2".to_string(),
            "gpt-4o-mini-2024-07-18".to_string(),
            "gpt-4o-mini".to_string(),
            "gpt-4o-mini".to_string(),
        ];
        let c = catalog(&table, Some(&offered));
        let names: Vec<&str> = c.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            &names[..3],
            ["gpt-4o-mini", "gpt-4o-mini-2024-07-18", "llama3.2"]
        );
        assert_eq!(
            c[1].info,
            table.get("gpt-4o-mini").cloned(),
            "priced as its base"
        );
        assert_eq!((c[2].offered, c[2].info.is_none()), (Some(true), true));
        assert!(c[3..].iter().all(|e| e.offered == Some(false)));
        assert_eq!(c.len(), 3 + builtin_models().len() - 1);
        assert_eq!(format_prices(c[0].info.as_ref()), "$0.15/$0.60");
        let fine = ModelInfo {
            input_per_million: Some(0.075),
            output_per_million: Some(10.0),
            ..Default::default()
        };
        assert_eq!(format_prices(Some(&fine)), "$0.075/$10.00");
        assert_eq!(format_prices(c[2].info.as_ref()), "price unknown");
    }

    #[test]
    fn dated_snapshot_uses_base_price() {
        let table = ModelTable::new(&BTreeMap::new());
        assert_eq!(
            table.get("gpt-4o-mini-2024-07-18"),
            table.get("gpt-4o-mini")
        );
        assert!(table.get("gpt-4o-mini-latest").is_none());
    }

    #[test]
    fn unknown_model_cost_is_unknown_not_zero() {
        let table = ModelTable::new(&BTreeMap::new());
        assert!(table.get("llama3.2").is_none());
        let partial = ModelInfo {
            input_per_million: Some(1.0),
            ..Default::default()
        };
        assert_eq!(partial.cost(10, 0, 10), None);
    }

    #[test]
    fn user_entry_overrides_one_field_and_adds_models() {
        let mut user = BTreeMap::new();
        user.insert(
            "gpt-4o-mini".to_string(),
            ModelInfo {
                output_per_million: Some(1.0),
                ..Default::default()
            },
        );
        user.insert(
            "qwen-plus".to_string(),
            ModelInfo {
                context_window: Some(131_072),
                input_per_million: Some(0.4),
                output_per_million: Some(1.2),
                ..Default::default()
            },
        );
        let table = ModelTable::new(&user);
        let m = table.get("gpt-4o-mini").unwrap();
        assert_eq!(m.output_per_million, Some(1.0));
        assert_eq!(m.input_per_million, Some(0.15));
        let q = table.get("qwen-plus").unwrap();
        assert!((q.cost(1_000_000, 0, 0).unwrap() - 0.4).abs() < 1e-12);
        // cached tokens but no cached price: unknown
        assert_eq!(q.cost(100, 50, 0), None);
    }
}
