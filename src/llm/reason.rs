//! Why an answer ended short, or a note on a complete one ("the answer reached the output
//! token limit"): saved with the answer, and written to `--json`, in English whatever the
//! interface's language, so that the history and scripts read the same words; shown to
//! people in their language by [`shown`], which also reads the reasons an older clerk saved.
//!
//! Every reason is a catalog text (locales/core-answers.yml) with at most one value,
//! `%{detail}`. This module only words reasons: it must not decide how an answer ended.

use std::borrow::Cow;

use crate::i18n::{Language, scoped};

/// The catalog keys of every reason an answer can be saved with (the answer's own, the
/// chat core's "stopped by you", the store's recovery at open).
const FORMS: &[&str] = &[
    "llm.reason.length",
    "llm.reason.content_filter",
    "llm.reason.no_finish_reason",
    "llm.reason.ended_early",
    "llm.reason.whole_without_finish",
    "llm.reason.server_error",
    "llm.reason.dropped",
    "llm.reason.silent",
    "llm.reason.scraps",
    "llm.reason.task_ended",
    "chat.reason.stopped_by_you",
    "store.reason.recovered",
];

/// A reason as it is saved: `text` (a `tr!` of one of the reasons) in English.
pub fn stored<'a>(text: impl FnOnce() -> Cow<'a, str>) -> String {
    let _en = scoped(Language::English);
    text().into_owned()
}

/// A saved reason in the interface's language; a text that is not one of clerk's reasons
/// (a server's own words, a reason from a newer clerk) is shown as it is.
pub fn shown(saved: &str) -> Cow<'_, str> {
    if crate::i18n::current() == Language::English {
        return Cow::Borrowed(saved);
    }
    for key in FORMS {
        let Some(english) = crate::_rust_i18n_try_translate("en", key) else {
            continue;
        };
        let detail = match english.split_once("%{detail}") {
            None if saved == english => "",
            None => continue,
            Some((before, after)) => {
                match saved
                    .strip_prefix(before)
                    .and_then(|rest| rest.strip_suffix(after))
                {
                    Some(detail) => detail,
                    None => continue,
                }
            }
        };
        if let Some(text) = crate::i18n::text(key) {
            return Cow::Owned(text.replace("%{detail}", detail));
        }
    }
    Cow::Borrowed(saved)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_saved_in_english_and_shown_in_chinese() {
        let _zh = scoped(Language::Chinese);
        let saved = stored(|| tr!("llm.reason.dropped", detail = "connection reset by peer"));
        assert_eq!(saved, "the connection dropped: connection reset by peer");
        assert_eq!(shown(&saved), "连接中断：connection reset by peer");
        let silent = stored(|| tr!("llm.reason.silent", detail = 30));
        assert_eq!(silent, "no data from the server for 30 s");
        assert_eq!(shown(&silent), "服务器已有 30 秒没有发送数据");
        assert_eq!(shown("stopped by you"), "已由你停止");
        assert_eq!(
            shown("clerk stopped before the answer finished"),
            "回答完成之前 clerk 已停止运行"
        );
        // Not one of clerk's reasons: as it is.
        assert_eq!(shown("the model refused"), "the model refused");
        drop(_zh);
        assert_eq!(shown("stopped by you"), "stopped by you");
    }

    #[test]
    fn every_reason_reads_back_from_its_english() {
        let _zh = scoped(Language::Chinese);
        for key in FORMS {
            let english = crate::_rust_i18n_try_translate("en", key).unwrap();
            let saved = english.replace("%{detail}", "7");
            let zh = shown(&saved);
            assert_ne!(zh, saved, "{key}");
            assert!(!zh.contains("%{"), "{key}: {zh}");
            if english.contains("%{detail}") {
                assert!(zh.contains('7'), "{key}: {zh}");
            }
        }
    }
}
