//! The hosted survey page (`/s/{token}`, DESIGN §10): one NPS, CSAT or CES
//! question with an optional comment, for the customer who got the link.
//! Plain HTML that works without JavaScript: the scale is a group of radio
//! buttons in a fieldset with its legend (a screen reader says the question
//! with each choice; arrow keys move between them), labels on every input,
//! errors announced with role="alert", and a contrast that reads on any
//! screen.

use maud::{DOCTYPE, Markup, html};

/// The question, its scale and the ends' labels of a kind of survey.
pub fn scale(kind: &str) -> Option<(&'static str, std::ops::RangeInclusive<u8>, &'static str, &'static str)> {
    match kind {
        "nps" => Some((
            "How likely are you to recommend us to a friend or colleague?",
            0..=10,
            "Not at all likely",
            "Extremely likely",
        )),
        "csat" => Some((
            "How satisfied are you with your recent experience with us?",
            1..=5,
            "Very dissatisfied",
            "Very satisfied",
        )),
        "ces" => Some(("How easy was it to get what you needed from us?", 1..=7, "Very difficult", "Very easy")),
        _ => None,
    }
}

/// What the page shows.
#[derive(Debug)]
pub enum SurveyState<'a> {
    /// The question (again, with what was wrong, after a bad answer).
    Ask {
        kind: &'a str,
        error: Option<&'a str>,
        comment: &'a str,
    },
    Thanks,
    AlreadyAnswered,
    Expired,
    Invalid,
}

fn shell(title: &str, body: &Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) }
                style { (maud::PreEscaped(CSS)) }
            }
            body { main { (*body) } }
        }
    }
    .into_string()
}

const CSS: &str = "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f24;background:#f6f7f9;margin:0}\
main{max-width:40rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002}\
h1{font-size:1.4rem;margin:0 0 1rem}fieldset{border:0;padding:0;margin:0 0 1.5rem}legend{font-weight:600;margin-bottom:.75rem}\
.scale{display:flex;flex-wrap:wrap;gap:.4rem}.scale label{display:flex;flex-direction:column;align-items:center;min-width:2.6rem;\
padding:.5rem .4rem;border:1px solid #8a94a3;border-radius:6px;cursor:pointer}.scale input{margin:0 0 .25rem}\
.scale label:focus-within{outline:3px solid #0b5fff;outline-offset:2px}.ends{display:flex;justify-content:space-between;\
font-size:.9rem;color:#454d59;margin-top:.4rem}textarea{width:100%;min-height:6rem;font:inherit;padding:.5rem;box-sizing:border-box;\
border:1px solid #8a94a3;border-radius:6px}button{font:inherit;font-weight:600;color:#fff;background:#0b5fff;border:0;\
border-radius:6px;padding:.65rem 1.4rem;margin-top:1rem;cursor:pointer}button:focus{outline:3px solid #1b1f24;outline-offset:2px}\
.error{color:#a40e26;background:#fdecee;border-radius:6px;padding:.6rem .8rem;margin-bottom:1rem}";

/// The page for a state.
pub fn page(state: &SurveyState<'_>) -> String {
    match state {
        SurveyState::Ask { kind, error, comment } => {
            let Some((question, range, low, high)) = scale(kind) else { return page(&SurveyState::Invalid) };
            shell(
                "A quick question",
                &html! {
                    h1 { "A quick question" }
                    @if let Some(e) = error { p.error role="alert" { (e) } }
                    form method="post" {
                        fieldset {
                            legend #q { (question) }
                            div.scale role="radiogroup" aria-labelledby="q" {
                                @for n in range.clone() {
                                    label for=(format!("score-{n}")) {
                                        input type="radio" name="score" id=(format!("score-{n}")) value=(n) required;
                                        span { (n) }
                                    }
                                }
                            }
                            div.ends aria-hidden="true" { span { (range.start()) " = " (low) } span { (range.end()) " = " (high) } }
                        }
                        label for="comment" { "Anything you would like to tell us? (optional)" }
                        textarea #comment name="comment" maxlength="2000" { (comment) }
                        button type="submit" { "Send" }
                    }
                },
            )
        }
        SurveyState::Thanks => {
            shell("Thank you", &html! { h1 { "Thank you" } p role="status" { "Your answer has been recorded." } })
        }
        SurveyState::AlreadyAnswered => shell(
            "Already answered",
            &html! { h1 { "Already answered" } p role="status" { "This survey has been answered already. Thank you!" } },
        ),
        SurveyState::Expired => shell(
            "This survey has closed",
            &html! { h1 { "This survey has closed" } p { "The link was valid for a limited time, and that time has passed." } },
        ),
        SurveyState::Invalid => shell(
            "Not a survey link",
            &html! { h1 { "Not a survey link" } p { "This link is not valid. Please use the link from your invitation as it was sent." } },
        ),
    }
}

/// The unsubscribe page (`/u/{token}`): a confirmation form (a link
/// scanner that fetches the link unsubscribes no one), then the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsubscribe {
    Confirm,
    Done,
    Invalid,
}

pub fn unsubscribe_page(state: Unsubscribe) -> String {
    match state {
        Unsubscribe::Confirm => shell(
            "Unsubscribe",
            &html! {
                h1 { "Unsubscribe" }
                p { "You will receive no more emails from us." }
                form method="post" { button type="submit" { "Unsubscribe" } }
            },
        ),
        Unsubscribe::Done => shell(
            "Unsubscribed",
            &html! { h1 { "Unsubscribed" } p role="status" { "You are unsubscribed and will receive no more emails from us." } },
        ),
        Unsubscribe::Invalid => page(&SurveyState::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_asks_on_its_scale_with_labelled_inputs() {
        for (kind, n) in [("nps", 11), ("csat", 5), ("ces", 7)] {
            let p = page(&SurveyState::Ask { kind, error: None, comment: "" });
            assert_eq!(p.matches("type=\"radio\"").count(), n, "{kind}");
            assert_eq!(p.matches("<label for=\"score-").count(), n, "{kind}");
            assert!(p.contains("<legend id=\"q\">") && p.contains("<label for=\"comment\">"), "{kind}");
        }
        let p = page(&SurveyState::Ask { kind: "csat", error: Some("Choose a score"), comment: "<b>x</b>" });
        assert!(p.contains("role=\"alert\"") && p.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(page(&SurveyState::Ask { kind: "other", error: None, comment: "" }).contains("Not a survey link"));
    }
}
