//! `terminal`: the terminal clerk runs in — its size, the colours it shows, and whether a
//! copy (OSC 52) can reach the clipboard from here (inside tmux, GNU screen, over SSH).
//!
//! Pure: the facts are gathered by the command line ([`Facts`]) and judged here. The
//! colour decision ([`colours`]) is the one the app's theme follows, so what the doctor
//! says is what the app does.

use super::{Check, CheckId, Said, Status, said as say};

/// What the terminal is, as found by the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Columns and rows, when there is a terminal.
    pub size: Option<(u16, u16)>,
    /// The smallest size the app draws in.
    pub min: (u16, u16),
    /// `NO_COLOR` is set (to something).
    pub no_color: bool,
    /// `COLORTERM`.
    pub colorterm: String,
    /// `TERM`.
    pub term: String,
    /// Inside tmux: its `set-clipboard` option (`None` when tmux did not say).
    pub tmux: Option<Option<String>>,
    /// Inside GNU screen (`STY`).
    pub screen: bool,
    /// Over SSH (`SSH_CONNECTION` or `SSH_TTY`).
    pub ssh: bool,
}

/// The colours a terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colours {
    /// None: `NO_COLOR` is set.
    Off,
    /// The 16 basic ones (themes are reduced to them).
    Basic,
    /// 256 colours or 24-bit colour.
    Full,
}

/// The colours to use, from `NO_COLOR`, `COLORTERM` and `TERM`: the app's themes follow it.
pub fn colours(no_color: bool, colorterm: &str, term: &str) -> Colours {
    if no_color {
        Colours::Off
    } else if colorterm.contains("truecolor")
        || colorterm.contains("24bit")
        || term.contains("256")
        || term.contains("direct")
    {
        Colours::Full
    } else {
        Colours::Basic
    }
}

/// The `terminal` check.
pub fn check(f: &Facts) -> Check {
    let id = CheckId::Terminal;
    let mut said: Vec<Said> = Vec::new();
    let mut fixes: Vec<Said> = Vec::new();
    let mut status = Status::Ok;
    let mut warn = |fix: Said, fixes: &mut Vec<Said>| {
        status = Status::Warn;
        fixes.push(fix);
    };
    match f.size {
        None => {
            said.push(say(|| tr!("doctor.terminal.none")));
            warn(say(|| tr!("doctor.terminal.none_fix")), &mut fixes);
        }
        Some((w, h)) if w < f.min.0 || h < f.min.1 => {
            let (mw, mh) = f.min;
            said.push(say(|| {
                tr!(
                    "doctor.terminal.small",
                    w = w,
                    h = h,
                    min_w = mw,
                    min_h = mh
                )
            }));
            warn(say(|| tr!("doctor.terminal.small_fix")), &mut fixes);
        }
        Some((w, h)) => said.push(Said::from(format!("{w}×{h}"))),
    }
    let term = say(|| match f.term.is_empty() {
        true => tr!("doctor.terminal.term_unset"),
        false => format!("TERM={}", f.term).into(),
    });
    let colorterm = &f.colorterm;
    match colours(f.no_color, &f.colorterm, &f.term) {
        Colours::Off => said.push(say(|| tr!("doctor.terminal.no_colours"))),
        Colours::Full if f.colorterm.contains("truecolor") || f.colorterm.contains("24bit") => {
            said.push(say(|| {
                tr!("doctor.terminal.truecolor", colorterm = colorterm)
            }));
        }
        Colours::Full => said.push(say(|| tr!("doctor.terminal.256", term = term))),
        Colours::Basic if f.term == "dumb" => {
            said.push(say(|| tr!("doctor.terminal.dumb")));
            warn(say(|| tr!("doctor.terminal.dumb_fix")), &mut fixes);
        }
        Colours::Basic => said.push(say(|| tr!("doctor.terminal.16", term = term))),
    }
    match (&f.tmux, f.screen) {
        (Some(Some(v)), _) if v == "on" || v == "external" => {
            said.push(say(|| tr!("doctor.terminal.tmux_ok", value = v)))
        }
        (Some(Some(v)), _) => {
            said.push(say(|| tr!("doctor.terminal.tmux_off", value = v)));
            warn(say(|| tr!("doctor.terminal.tmux_fix")), &mut fixes);
        }
        (Some(None), _) => {
            said.push(say(|| tr!("doctor.terminal.tmux_unknown")));
            warn(say(|| tr!("doctor.terminal.tmux_unknown_fix")), &mut fixes);
        }
        (None, true) => {
            said.push(say(|| tr!("doctor.terminal.screen")));
            warn(say(|| tr!("doctor.terminal.screen_fix")), &mut fixes);
        }
        (None, false) if f.ssh => said.push(say(|| tr!("doctor.terminal.ssh"))),
        (None, false) if f.size.is_some() => said.push(say(|| tr!("doctor.terminal.clipboard"))),
        (None, false) => {}
    }
    let fix = (!fixes.is_empty()).then(|| Said::join(&fixes));
    Check::new(id, status, Said::join(&said), fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Facts {
        Facts {
            size: Some((120, 40)),
            min: (40, 10),
            colorterm: "truecolor".into(),
            term: "xterm-256color".into(),
            ..Facts::default()
        }
    }

    #[test]
    fn colours_follow_no_color_colorterm_and_term() {
        assert_eq!(colours(true, "truecolor", "xterm-256color"), Colours::Off);
        assert_eq!(colours(false, "truecolor", "xterm"), Colours::Full);
        assert_eq!(colours(false, "", "screen-256color"), Colours::Full);
        assert_eq!(colours(false, "", "xterm"), Colours::Basic);
    }

    #[test]
    fn a_good_terminal_passes_and_says_what_it_is() {
        let c = check(&good());
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(c.detail.contains("120×40"), "{c:?}");
        assert!(c.detail.contains("24-bit colour"), "{c:?}");
        assert_eq!(c.fix, None);
    }

    #[test]
    fn tmux_without_set_clipboard_screen_and_no_terminal_are_warnings() {
        let mut f = good();
        f.tmux = Some(Some("external".into()));
        assert_eq!(check(&f).status, Status::Ok);
        f.tmux = Some(Some("off".into()));
        let c = check(&f);
        assert_eq!(c.status, Status::Warn);
        assert!(c.fix.unwrap().contains("set-clipboard on"));
        let mut f = good();
        f.screen = true;
        let c = check(&f);
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("GNU screen"), "{c:?}");
        let none = Facts {
            min: (40, 10),
            ..Facts::default()
        };
        let c = check(&none);
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.starts_with("no terminal"), "{c:?}");
        let mut small = good();
        small.size = Some((30, 8));
        assert!(check(&small).detail.contains("smaller than the 40×10"));
    }
}
