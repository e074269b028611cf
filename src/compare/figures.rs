//! The order of the requests and the statistics of each model's runs.
//!
//! Pure: numbers in, numbers out. Only complete answers are measured (an error or a cut-off
//! answer counts in `errors`, not in the times); a figure with nothing to measure is
//! `None` — never 0 — and so is a cost whose model has no price.

use super::{ModelRuns, Sample};

/// The requests in the order they are sent: run 1 of every model, then run 2 of every
/// model, and so on, so that a slow minute of the network falls on all models alike.
/// Each entry is `(run, model)`, both 0-based.
pub fn schedule(models: usize, runs: usize) -> Vec<(usize, usize)> {
    (0..runs)
        .flat_map(|run| (0..models).map(move |model| (run, model)))
        .collect()
}

/// The median: the middle value, or the mean of the two middle ones.
pub fn median(values: &[f64]) -> Option<f64> {
    let v = sorted(values);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The 90th percentile by nearest rank: the smallest value that at least 90% of the values
/// do not exceed (with 3 runs, the slowest; with 10, the 9th).
pub fn p90(values: &[f64]) -> Option<f64> {
    let v = sorted(values);
    if v.is_empty() {
        return None;
    }
    let rank = (v.len() * 9).div_ceil(10).max(1);
    Some(v[rank - 1])
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// The shortest generation time (first token to end) a speed is computed from: an answer
/// that arrived in one piece has no measurable speed.
const MIN_GENERATION_MS: f64 = 1.0;

/// Output tokens a second while the answer streamed: completion tokens over the time from
/// the first token to the end.
pub fn tokens_per_s(s: &Sample) -> Option<f64> {
    let (ttft, total, tokens) = (s.ttft_ms?, s.total_ms?, s.completion_tokens?);
    let generating = total - ttft;
    (generating >= MIN_GENERATION_MS && tokens > 0).then(|| tokens as f64 / (generating / 1000.0))
}

/// One model's figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figures {
    /// Runs made (fewer than asked when it gave up or the comparison stopped).
    pub runs: usize,
    /// Runs that gave no complete answer.
    pub errors: usize,
    /// Time to the first token, ms: median and p90.
    pub ttft_ms: (Option<f64>, Option<f64>),
    /// Total time, ms: median and p90.
    pub total_ms: (Option<f64>, Option<f64>),
    /// Output tokens a second: median.
    pub tokens_per_s: Option<f64>,
    /// Prompt tokens per answer (mean over the complete answers, rounded).
    pub prompt_tokens: Option<u64>,
    /// Completion tokens per answer (likewise).
    pub completion_tokens: Option<u64>,
    /// Cost per answer in USD: the mean over the complete answers; `None` when one of
    /// them has no cost (the model has no price) or there is none.
    pub cost_per_answer: Option<f64>,
}

impl Figures {
    /// The figures of `runs`.
    pub fn of(runs: &ModelRuns) -> Figures {
        let answers: Vec<&Sample> = runs.samples.iter().filter(|s| s.is_answer()).collect();
        let ttft: Vec<f64> = answers.iter().filter_map(|s| s.ttft_ms).collect();
        let total: Vec<f64> = answers.iter().filter_map(|s| s.total_ms).collect();
        let speed: Vec<f64> = answers.iter().filter_map(|s| tokens_per_s(s)).collect();
        let mean_tokens = |get: fn(&Sample) -> Option<u64>| {
            let v: Vec<u64> = answers.iter().filter_map(|s| get(s)).collect();
            (!v.is_empty()).then(|| (v.iter().sum::<u64>() as f64 / v.len() as f64).round() as u64)
        };
        let costs: Option<Vec<f64>> = answers.iter().map(|s| s.cost_usd).collect();
        let cost_per_answer = costs
            .filter(|c| !c.is_empty())
            .map(|c| c.iter().sum::<f64>() / c.len() as f64);
        Figures {
            runs: runs.samples.len(),
            errors: runs.samples.len() - answers.len(),
            ttft_ms: (median(&ttft), p90(&ttft)),
            total_ms: (median(&total), p90(&total)),
            tokens_per_s: median(&speed),
            prompt_tokens: mean_tokens(|s| s.prompt_tokens),
            completion_tokens: mean_tokens(|s| s.completion_tokens),
            cost_per_answer,
        }
    }

    /// Cost of 1,000 answers like these (`None` when the cost is unknown).
    pub fn cost_per_1k(&self) -> Option<f64> {
        self.cost_per_answer.map(|c| c * 1000.0)
    }

    /// Complete answers.
    pub fn answers(&self) -> usize {
        self.runs - self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(run: usize, ttft: f64, total: f64, out: u64, cost: Option<f64>) -> Sample {
        Sample {
            run,
            text: format!("answer {run}"),
            error: None,
            ttft_ms: Some(ttft),
            total_ms: Some(total),
            prompt_tokens: Some(100),
            completion_tokens: Some(out),
            cost_usd: cost,
        }
    }

    fn failed(run: usize) -> Sample {
        Sample {
            run,
            error: Some("rate limited".into()),
            ..Sample::default()
        }
    }

    #[test]
    fn the_schedule_interleaves_the_models_run_by_run() {
        assert_eq!(
            schedule(2, 3),
            vec![(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
        );
        assert_eq!(schedule(3, 1), vec![(0, 0), (0, 1), (0, 2)]);
        assert!(schedule(0, 3).is_empty());
    }

    #[test]
    fn median_and_p90() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5.0]), Some(5.0));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(p90(&[]), None);
        assert_eq!(p90(&[7.0]), Some(7.0));
        // Three runs: the slowest.
        assert_eq!(p90(&[300.0, 100.0, 200.0]), Some(300.0));
        // Ten runs: the 9th, not the slowest.
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(p90(&ten), Some(9.0));
        // Eleven: rank ceil(9.9) = 10.
        let eleven: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(p90(&eleven), Some(10.0));
        // NaN is never a time.
        assert_eq!(median(&[f64::NAN, 1.0]), Some(1.0));
    }

    #[test]
    fn speed_is_tokens_over_the_time_after_the_first_token() {
        let s = answer(1, 500.0, 2500.0, 100, None);
        assert_eq!(tokens_per_s(&s), Some(50.0));
        // One piece: no speed.
        assert_eq!(tokens_per_s(&answer(1, 80.0, 80.0, 100, None)), None);
        assert_eq!(tokens_per_s(&answer(1, 80.0, 900.0, 0, None)), None);
    }

    #[test]
    fn figures_measure_complete_answers_and_count_the_rest_as_errors() {
        let runs = ModelRuns {
            model: "m".into(),
            samples: vec![
                answer(1, 100.0, 1100.0, 100, Some(0.002)),
                failed(2),
                answer(3, 300.0, 2300.0, 101, Some(0.004)),
            ],
            gave_up: None,
        };
        let f = Figures::of(&runs);
        assert_eq!((f.runs, f.errors, f.answers()), (3, 1, 2));
        assert_eq!(f.ttft_ms, (Some(200.0), Some(300.0)));
        assert_eq!(f.total_ms, (Some(1700.0), Some(2300.0)));
        assert_eq!(f.tokens_per_s, Some(75.25));
        assert_eq!(
            (f.prompt_tokens, f.completion_tokens),
            (Some(100), Some(101))
        );
        assert!((f.cost_per_answer.unwrap() - 0.003).abs() < 1e-12);
        assert!((f.cost_per_1k().unwrap() - 3.0).abs() < 1e-9);
    }

    #[test]
    fn an_unknown_price_stays_unknown_and_nothing_measured_is_none() {
        let runs = ModelRuns {
            model: "llama".into(),
            samples: vec![answer(1, 1.0, 2.0, 3, None)],
            gave_up: None,
        };
        let f = Figures::of(&runs);
        assert_eq!(f.cost_per_answer, None, "unknown, never 0");
        assert_eq!(f.cost_per_1k(), None);
        let nothing = Figures::of(&ModelRuns {
            model: "x".into(),
            samples: vec![failed(1)],
            gave_up: Some("unknown model".into()),
        });
        assert_eq!((nothing.runs, nothing.errors), (1, 1));
        assert_eq!(nothing.ttft_ms, (None, None));
        assert_eq!(nothing.tokens_per_s, None);
        assert_eq!(nothing.cost_per_answer, None);
        assert_eq!(nothing.prompt_tokens, None);
    }
}
