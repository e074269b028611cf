//! The judge: a model asked which of two answers serves the request better, once in each
//! order (judges favour a position, so every pair is shown as A/B and again as B/A), its
//! plain-text verdict read back, and the wins and ties counted.
//!
//! Pure. The verdict is read from a line "Winner: A", "Winner: B" or "Winner: tie",
//! tolerating what small models do to it (Markdown, "Answer A", "The winner is B.", a
//! reply of one letter); a reply without one is kept whole as "no verdict", never guessed.

use crate::llm::{ChatMessage, ChatRole};

/// What every report says about a judge.
pub const OPINION: &str = "A judge's verdict is one model's opinion of the answers, not a measurement: read the answers before deciding.";

/// The judge's instructions.
const INSTRUCTIONS: &str = "You compare two answers to the same request. Decide which one serves the request better: correct, complete, faithful to any documents in the request, clear, and no longer than it needs to be. Ignore which answer comes first and how long it is. Reply with two or three sentences giving your reasons, then a last line that is exactly one of:\nWinner: A\nWinner: B\nWinner: tie";

/// Which answer the judge preferred, by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The answer shown first.
    A,
    /// The answer shown second.
    B,
    /// Neither.
    Tie,
}

/// The messages that ask the judge about `request` (the conversation compared) and two
/// answers, `a` shown first.
pub fn messages(request: &[ChatMessage], a: &str, b: &str) -> Vec<ChatMessage> {
    let mut asked = String::new();
    for m in request {
        let who = match m.role {
            ChatRole::System => "Instructions given to the assistant",
            ChatRole::User => "The user",
            ChatRole::Assistant => "The assistant, earlier",
        };
        asked.push_str(&format!("{who}:\n{}\n\n", m.content.trim_end()));
    }
    vec![
        ChatMessage {
            role: ChatRole::System,
            content: INSTRUCTIONS.to_string(),
        },
        ChatMessage {
            role: ChatRole::User,
            content: format!(
                "<request>\n{}</request>\n\n<answer_a>\n{}\n</answer_a>\n\n<answer_b>\n{}\n</answer_b>",
                asked,
                a.trim_end(),
                b.trim_end()
            ),
        },
    ]
}

/// The verdict in a judge's reply and its reasons (the reply without the verdict line);
/// `None` when there is no verdict to read.
pub fn parse(reply: &str) -> Option<(Verdict, String)> {
    let lines: Vec<&str> = reply.lines().collect();
    for (i, line) in lines.iter().enumerate().rev() {
        if let Some(v) = verdict_line(line) {
            let reason: Vec<&str> = lines
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, l)| *l)
                .collect();
            return Some((v, reason.join("\n").trim().to_string()));
        }
    }
    // A reply of the verdict alone ("B", "tie.").
    let bare = reply.trim().trim_matches(|c: char| !c.is_alphanumeric());
    option(&bare.to_lowercase()).map(|v| (v, String::new()))
}

/// The verdict of one line holding "winner", if it names exactly one option.
fn verdict_line(line: &str) -> Option<Verdict> {
    let plain: String = line
        .chars()
        .filter(|c| !matches!(c, '*' | '_' | '`' | '#' | '>'))
        .collect::<String>()
        .to_lowercase();
    let at = plain.find("winner")?;
    let mut rest = plain[at + "winner".len()..]
        .trim_start_matches(|c: char| c.is_whitespace() || ":：-=–—".contains(c));
    for lead in ["is ", "answer ", "response ", "[", "("] {
        rest = rest.strip_prefix(lead).unwrap_or(rest).trim_start();
    }
    let end = rest
        .find(|c: char| !c.is_alphanumeric())
        .unwrap_or(rest.len());
    let verdict = option(&rest[..end])?;
    // "Winner: A or B", "Winner: A|B|tie", "Winner: A, B or tie": the instructions
    // echoed, not a verdict.
    let tail = rest[end..].trim_start_matches([']', ')', ' ']);
    let listed = tail.strip_prefix(',').is_some_and(|t| {
        let next = t.trim_start().split(|c: char| !c.is_alphanumeric()).next();
        next.and_then(option).is_some()
    });
    let echoed = listed
        || ["or ", "|", "/", "and "]
            .iter()
            .any(|s| tail.starts_with(s));
    (!echoed).then_some(verdict)
}

fn option(word: &str) -> Option<Verdict> {
    match word {
        "a" => Some(Verdict::A),
        "b" => Some(Verdict::B),
        "tie" | "draw" | "equal" | "neither" | "both" | "none" => Some(Verdict::Tie),
        _ => None,
    }
}

/// The pairs to judge among `n` models, each in both orders: `(shown as A, shown as B)`.
pub fn pairs(n: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            out.push((i, j));
            out.push((j, i));
        }
    }
    out
}

/// What one question to the judge gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A verdict, with the judge's reasons.
    Verdict(Verdict, String),
    /// A reply without a readable verdict, kept whole.
    NoVerdict(String),
    /// The request failed (or was refused); the error.
    Failed(String),
}

/// One question to the judge: two models' answers, in one order.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The model whose answer was shown as A (an index into the comparison's models).
    pub a: usize,
    /// The model whose answer was shown as B.
    pub b: usize,
    /// What came of it.
    pub outcome: Outcome,
}

impl Judgement {
    /// The model that won (an index), `None` for a tie, no verdict or a failure.
    pub fn winner(&self) -> Option<usize> {
        match self.outcome {
            Outcome::Verdict(Verdict::A, _) => Some(self.a),
            Outcome::Verdict(Verdict::B, _) => Some(self.b),
            _ => None,
        }
    }
}

/// Everything the judge said.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Judged {
    /// The judge model.
    pub model: String,
    /// Its judgements, in the order asked.
    pub judgements: Vec<Judgement>,
    /// Why some pairs were not judged (a model without a complete answer; a refusal).
    pub notes: Vec<String>,
}

/// The counts of one pair of models over both orders.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally {
    /// The first model of the pair (an index).
    pub x: usize,
    /// The second.
    pub y: usize,
    /// Times `x` won.
    pub x_wins: usize,
    /// Times `y` won.
    pub y_wins: usize,
    /// Ties.
    pub ties: usize,
    /// Replies without a verdict.
    pub no_verdict: usize,
    /// Requests that failed.
    pub failed: usize,
}

impl Tally {
    /// Each won once: the verdict followed the position, not the answers.
    pub fn split(&self) -> bool {
        self.x_wins == 1 && self.y_wins == 1
    }
}

impl Judged {
    /// The counts per pair, in the order the pairs were first asked.
    pub fn tallies(&self) -> Vec<Tally> {
        let mut out: Vec<Tally> = Vec::new();
        for j in &self.judgements {
            let (x, y) = (j.a.min(j.b), j.a.max(j.b));
            let at = match out.iter().position(|t| (t.x, t.y) == (x, y)) {
                Some(at) => at,
                None => {
                    out.push(Tally {
                        x,
                        y,
                        ..Tally::default()
                    });
                    out.len() - 1
                }
            };
            let t = &mut out[at];
            match (&j.outcome, j.winner()) {
                (_, Some(w)) if w == x => t.x_wins += 1,
                (_, Some(_)) => t.y_wins += 1,
                (Outcome::Verdict(..), None) => t.ties += 1,
                (Outcome::NoVerdict(_), None) => t.no_verdict += 1,
                (Outcome::Failed(_), None) => t.failed += 1,
            }
        }
        out
    }

    /// Wins of model `i` over all pairs and orders.
    pub fn wins(&self, i: usize) -> usize {
        self.judgements
            .iter()
            .filter(|j| j.winner() == Some(i))
            .count()
    }

    /// Ties, replies without a verdict, and failed requests, over all judgements.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for j in &self.judgements {
            match j.outcome {
                Outcome::Verdict(Verdict::Tie, _) => c.0 += 1,
                Outcome::NoVerdict(_) => c.1 += 1,
                Outcome::Failed(_) => c.2 += 1,
                Outcome::Verdict(..) => {}
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(reply: &str) -> Option<Verdict> {
        parse(reply).map(|(v, _)| v)
    }

    #[test]
    fn the_verdict_line_is_read_with_its_reasons() {
        let (v, reason) =
            parse("Answer B cites the policy and gives the limit.\nAnswer A is vague.\nWinner: B")
                .unwrap();
        assert_eq!(v, Verdict::B);
        assert_eq!(
            reason,
            "Answer B cites the policy and gives the limit.\nAnswer A is vague."
        );
        assert_eq!(verdict("Both are fine.\nWinner: tie"), Some(Verdict::Tie));
        assert_eq!(verdict("winner: a"), Some(Verdict::A));
    }

    #[test]
    fn what_small_models_do_to_the_verdict_is_tolerated() {
        for (reply, want) in [
            ("Reasons.\n**Winner:** A", Verdict::A),
            ("Reasons.\n**Winner: Answer B**", Verdict::B),
            ("Reasons.\n### Winner - B.", Verdict::B),
            ("The winner is A.", Verdict::A),
            ("Winner：B", Verdict::B),
            ("Winner: [A]", Verdict::A),
            ("Winner: Tie.", Verdict::Tie),
            ("Winner: draw", Verdict::Tie),
            ("Winner: B. A misses the limit.", Verdict::B),
            (
                "Winner: A, because both cite it but A is shorter",
                Verdict::A,
            ),
            ("B", Verdict::B),
            ("tie.", Verdict::Tie),
            // The last verdict line counts.
            ("Winner: A\nOn reflection:\nWinner: B", Verdict::B),
        ] {
            assert_eq!(verdict(reply), Some(want), "{reply:?}");
        }
    }

    #[test]
    fn no_verdict_is_never_guessed() {
        for reply in [
            "",
            "Both answers have merits.",
            "Winner: A|B|tie",
            "Winner: A or B, hard to say",
            "Winner: A, B or tie",
            "Winner: the first one",
            "I prefer answer A overall", // no verdict line: not read into
        ] {
            assert_eq!(verdict(reply), None, "{reply:?}");
        }
        // An echoed instruction above the real verdict does not hide it.
        assert_eq!(
            verdict("You asked for Winner: A, B or tie.\nWinner: B"),
            Some(Verdict::B)
        );
    }

    #[test]
    fn pairs_come_in_both_orders() {
        assert_eq!(pairs(2), vec![(0, 1), (1, 0)]);
        assert_eq!(
            pairs(3),
            vec![(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)]
        );
        assert!(pairs(1).is_empty());
    }

    #[test]
    fn the_judge_sees_the_request_and_both_answers_in_order() {
        let request = vec![
            ChatMessage {
                role: ChatRole::System,
                content: "Be brief.".into(),
            },
            ChatMessage {
                role: ChatRole::User,
                content: "What is the hotel limit?".into(),
            },
        ];
        let m = messages(&request, "first answer", "second answer");
        assert_eq!(m[0].role, ChatRole::System);
        assert!(m[0].content.ends_with("Winner: A\nWinner: B\nWinner: tie"));
        let user = &m[1].content;
        assert!(user.contains("Instructions given to the assistant:\nBe brief."));
        assert!(user.contains("The user:\nWhat is the hotel limit?"));
        let (a, b) = (
            user.find("first answer").unwrap(),
            user.find("second answer").unwrap(),
        );
        assert!(a < b);
        assert!(user.contains("<answer_a>\nfirst answer\n</answer_a>"));
    }

    #[test]
    fn wins_ties_and_missing_verdicts_are_counted_per_pair_over_both_orders() {
        let j = |a, b, outcome| Judgement { a, b, outcome };
        let judged = Judged {
            model: "judge".into(),
            judgements: vec![
                j(0, 1, Outcome::Verdict(Verdict::A, "r".into())), // 0 wins
                j(1, 0, Outcome::Verdict(Verdict::A, "r".into())), // 1 wins: split
                j(0, 2, Outcome::Verdict(Verdict::B, "r".into())), // 2 wins
                j(2, 0, Outcome::Verdict(Verdict::A, "r".into())), // 2 wins
                j(1, 2, Outcome::Verdict(Verdict::Tie, "r".into())),
                j(2, 1, Outcome::NoVerdict("hmm".into())),
            ],
            notes: vec![],
        };
        let t = judged.tallies();
        assert_eq!(t.len(), 3);
        assert_eq!((t[0].x, t[0].y, t[0].x_wins, t[0].y_wins), (0, 1, 1, 1));
        assert!(t[0].split());
        assert_eq!((t[1].x, t[1].y, t[1].x_wins, t[1].y_wins), (0, 2, 0, 2));
        assert!(!t[1].split());
        assert_eq!((t[2].ties, t[2].no_verdict), (1, 1));
        assert_eq!((judged.wins(0), judged.wins(1), judged.wins(2)), (1, 1, 2));
        assert_eq!(judged.counts(), (1, 1, 0));
    }
}
