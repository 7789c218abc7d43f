//! Splits message text into plain text and links so the UI can render links without ever
//! treating text as HTML.

use crate::core::message::safe_url;

/// A piece of message text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Plain text, rendered as a text node.
    Text(String),
    /// An http(s) link.
    Link(String),
    /// An http(s) link to an image (png, jpg, jpeg, gif, webp).
    Image(String),
}

const TRAILING_PUNCTUATION: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '"', '\'', '>'];

/// Whether a URL points at an image by its extension.
pub fn is_image_url(url: &str) -> bool {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    [".png", ".jpg", ".jpeg", ".gif", ".webp"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

/// Splits `text` into text, link and image segments.
pub fn segments(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while let Some(start) = find_url_start(rest) {
        let (before, from_url) = rest.split_at(start);
        plain.push_str(before);
        let end = from_url.find(char::is_whitespace).unwrap_or(from_url.len());
        let candidate = from_url[..end].trim_end_matches(TRAILING_PUNCTUATION);
        match safe_url(candidate).filter(|u| u.len() > "https://".len()) {
            Some(url) => {
                if !plain.is_empty() {
                    out.push(Segment::Text(std::mem::take(&mut plain)));
                }
                out.push(if is_image_url(&url) {
                    Segment::Image(url)
                } else {
                    Segment::Link(url)
                });
                rest = &from_url[candidate.len()..];
            }
            None => {
                plain.push_str(&from_url[..4]);
                rest = &from_url[4..];
            }
        }
    }
    plain.push_str(rest);
    if !plain.is_empty() {
        out.push(Segment::Text(plain));
    }
    out
}

/// Whether `s` looks like an email address: one `@`, something before it, a dotted domain
/// after it, no spaces. Deliberately loose (the server has the last word); it catches typos
/// such as a missing `@` or domain.
pub fn is_valid_email(s: &str) -> bool {
    let s = s.trim();
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
}

fn find_url_start(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    [lower.find("https://"), lower.find("http://")]
        .into_iter()
        .flatten()
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_links_and_keeps_punctuation_as_text() {
        assert_eq!(
            segments("See https://example.com/pricing. Thanks"),
            [
                Segment::Text("See ".into()),
                Segment::Link("https://example.com/pricing".into()),
                Segment::Text(". Thanks".into())
            ]
        );
    }

    #[test]
    fn images_are_recognised_by_extension() {
        assert_eq!(
            segments("http://x.test/a.PNG?x=1"),
            [Segment::Image("http://x.test/a.PNG?x=1".into())]
        );
    }

    #[test]
    fn html_and_script_urls_stay_plain_text() {
        let hostile = "<img src=x onerror=alert(1)> javascript:alert(1) http://";
        assert_eq!(segments(hostile), [Segment::Text(hostile.into())]);
    }

    #[test]
    fn empty_and_plain_text() {
        assert_eq!(segments(""), []);
        assert_eq!(segments("hello"), [Segment::Text("hello".into())]);
    }

    #[test]
    fn email_check_catches_typos_only() {
        for ok in [
            "a@b.co",
            " lee@example.com ",
            "first.last+tag@mail.example.org",
        ] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "lee",
            "lee@",
            "@example.com",
            "lee@example",
            "lee@@example.com",
            "lee@example..com",
            "lee @example.com",
            "lee@example.com.",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
