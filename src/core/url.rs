//! URL helpers the backends share.

/// Percent-encodes like JavaScript's `encodeURIComponent`.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Turns an http(s) URL into ws(s); ws(s) URLs are kept.
pub fn to_websocket(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if let Some(rest) = trimmed.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = trimmed.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        trimmed.to_string()
    }
}

/// Turns a ws(s) URL into http(s); http(s) URLs are kept.
pub fn to_http(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if let Some(rest) = trimmed.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = trimmed.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_encode_uri_component() {
        assert_eq!(
            encode_component("https://new.push.al"),
            "https%3A%2F%2Fnew.push.al"
        );
        assert_eq!(encode_component("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn websocket_scheme() {
        assert_eq!(to_websocket("https://x.test/"), "wss://x.test");
        assert_eq!(to_websocket("http://x.test/cable"), "ws://x.test/cable");
        assert_eq!(to_websocket("wss://x.test"), "wss://x.test");
        assert_eq!(to_http("wss://x.test/cometd/"), "https://x.test/cometd");
        assert_eq!(to_http("ws://x.test"), "http://x.test");
        assert_eq!(to_http("https://x.test"), "https://x.test");
    }
}
