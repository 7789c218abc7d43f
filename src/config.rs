//! Widget configuration, parsed from the host page's `data-*` attributes and/or
//! `window.ChatWidgetSettings`. Pure: takes key/value pairs, returns a typed config or says
//! exactly which setting is wrong.

use crate::core::VisitorProfile;
use crate::i18n::Locale;

/// Which side of the page the launcher sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Bottom right (default).
    Right,
    /// Bottom left.
    Left,
}

/// Voxsig (Chatwoot-style) settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoxsigConfig {
    /// `https://chat.example.com` — REST base; the socket is `<base>/cable` with ws(s).
    pub base_url: String,
    /// Public API inbox identifier (the API channel's identifier / website token).
    pub inbox_identifier: String,
    /// Optional account id sent in the subscription identifier.
    pub account_id: Option<u64>,
    /// Optional user id (only for user tokens; contacts leave it out).
    pub user_id: Option<u64>,
    /// How often `update_presence` is sent.
    pub presence_interval_ms: u64,
}

/// Genesys GMS Chat V2 (CometD) settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GmsConfig {
    /// CometD endpoint, e.g. `https://gms.example.com/genesys/cometd`.
    pub cometd_url: String,
    /// Chat service name: the channel is `/service/chatV2/{service}`.
    pub service: String,
    /// Chat subject shown to the agent.
    pub subject: Option<String>,
    /// Extra userData (a JSON object) sent with `requestChat`.
    pub user_data: Option<serde_json::Map<String, serde_json::Value>>,
    /// Which Bayeux transport to use.
    pub transport: GmsTransport,
    /// A chat not heard from for longer than this (ms) is not restored after a page load:
    /// Genesys Widgets' `restoreTimeout`, 60 s by default.
    pub restore_timeout_ms: u64,
}

/// The Bayeux transports a GMS chat may use (CometD's `websocket` and `long-polling`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GmsTransport {
    /// WebSocket, falling back to long-polling when the socket never works or the server does
    /// not offer it, as the CometD client does.
    #[default]
    Auto,
    /// WebSocket only.
    WebSocket,
    /// HTTP long-polling only.
    LongPolling,
}

/// Push (SocketCluster v9) settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushConfig {
    /// Socket server URL, e.g. `wss://socket.example.com` (http(s) is turned into ws(s)).
    pub host: String,
    /// Push channel UUID.
    pub channel_uuid: String,
    /// Push host API URL.
    pub host_api: String,
    /// Registers the visitor with this id (`registerUser {id}`), as Push's own widget's
    /// `sessionId` does; otherwise the server makes one up.
    pub session_id: Option<String>,
    /// Sent once when a new session starts, to trigger a flow; never shown as a visitor message.
    pub init_payload: Option<String>,
}

/// Which backend the widget talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendConfig {
    /// The built-in scripted conversation; no network.
    Demo,
    /// Voxsig over ActionCable + REST.
    Voxsig(VoxsigConfig),
    /// GMS Chat V2 over CometD.
    Gms(GmsConfig),
    /// Push over SocketCluster.
    Push(PushConfig),
}

/// Everything the widget needs to know from the host page.
#[derive(Clone, Debug, PartialEq)]
pub struct WidgetConfig {
    /// The backend and its settings.
    pub backend: BackendConfig,
    /// Forced locale; `None` follows the browser.
    pub locale: Option<Locale>,
    /// Header title; `None` uses the localized default.
    pub title: Option<String>,
    /// Launcher position.
    pub position: Position,
    /// Accent colour (`#rgb` or `#rrggbb`).
    pub accent_color: Option<String>,
    /// Open the window as soon as the widget loads.
    pub open_on_load: bool,
    /// Visitor name/email known up front.
    pub visitor: VisitorProfile,
}

/// A setting that is missing or malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting's key as the host page writes it (camelCase, as in `dataset`).
    pub setting: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "setting \"{}\": {}", self.setting, self.problem)
    }
}

/// Key/value settings, later sources overriding earlier ones.
#[derive(Clone, Debug, Default)]
pub struct RawSettings(Vec<(String, String)>);

impl RawSettings {
    /// Adds (or overrides) one setting. Empty values count as absent.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        self.0.retain(|(k, _)| k != key);
        if !value.trim().is_empty() {
            self.0.push((key.to_string(), value.trim().to_string()));
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, key: &'static str) -> Result<String, ConfigError> {
        self.get(key).map(str::to_string).ok_or(ConfigError {
            setting: key,
            problem: "is required".into(),
        })
    }

    fn url(&self, key: &'static str, schemes: &[&str]) -> Result<String, ConfigError> {
        let value = self.required(key)?;
        let lower = value.to_ascii_lowercase();
        let scheme_ok = schemes
            .iter()
            .any(|s| lower.starts_with(&format!("{s}://")));
        let has_host = value
            .split_once("://")
            .is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
        if !scheme_ok || !has_host {
            return Err(ConfigError {
                setting: key,
                problem: format!("\"{value}\" is not a {} URL", schemes.join("/")),
            });
        }
        Ok(value.trim_end_matches('/').to_string())
    }

    fn number(&self, key: &'static str) -> Result<Option<u64>, ConfigError> {
        self.get(key)
            .map(|v| {
                v.parse::<u64>().map_err(|_| ConfigError {
                    setting: key,
                    problem: format!("\"{v}\" is not a whole number"),
                })
            })
            .transpose()
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | "yes" | ""))
    }
}

/// Parses settings into a config.
pub fn parse(raw: &RawSettings) -> Result<WidgetConfig, ConfigError> {
    let backend = match raw.get("backend") {
        None => return Err(ConfigError {
            setting: "backend",
            problem:
                "is required: one of voxsig, gms, push (or demo for the built-in demo conversation)"
                    .into(),
        }),
        Some("demo") => BackendConfig::Demo,
        Some("voxsig") => BackendConfig::Voxsig(VoxsigConfig {
            base_url: raw.url("voxsigUrl", &["http", "https"])?,
            inbox_identifier: raw.required("voxsigInbox")?,
            account_id: raw.number("voxsigAccountId")?,
            user_id: raw.number("voxsigUserId")?,
            presence_interval_ms: raw.number("voxsigPresenceInterval")?.unwrap_or(30).max(5) * 1000,
        }),
        Some("gms") => BackendConfig::Gms(GmsConfig {
            cometd_url: raw.url("gmsUrl", &["http", "https", "ws", "wss"])?,
            service: raw.required("gmsService")?,
            subject: raw.get("gmsSubject").map(str::to_string),
            user_data: match raw.get("gmsUserData") {
                None => None,
                Some(json) => match serde_json::from_str::<serde_json::Value>(json) {
                    Ok(serde_json::Value::Object(map)) => Some(map),
                    _ => {
                        return Err(ConfigError {
                            setting: "gmsUserData",
                            problem: "must be a JSON object".into(),
                        })
                    }
                },
            },
            transport: match raw.get("gmsTransport") {
                None | Some("auto") => GmsTransport::Auto,
                Some("websocket") => GmsTransport::WebSocket,
                Some("long-polling") => GmsTransport::LongPolling,
                Some(other) => {
                    return Err(ConfigError {
                        setting: "gmsTransport",
                        problem: format!("\"{other}\" is not auto, websocket or long-polling"),
                    })
                }
            },
            restore_timeout_ms: raw.number("gmsRestoreTimeout")?.unwrap_or(60) * 1000,
        }),
        Some("push") => BackendConfig::Push(PushConfig {
            host: raw.url("pushHost", &["http", "https", "ws", "wss"])?,
            channel_uuid: raw.required("pushChannelUuid")?,
            host_api: raw.url("pushHostApi", &["http", "https"])?,
            session_id: raw
                .get("pushSessionId")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            init_payload: raw
                .get("pushInitPayload")
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string),
        }),
        Some(other) => {
            return Err(ConfigError {
                setting: "backend",
                problem: format!("\"{other}\" is not one of voxsig, gms, push, demo"),
            })
        }
    };
    let position = match raw.get("position") {
        None | Some("right") => Position::Right,
        Some("left") => Position::Left,
        Some(other) => {
            return Err(ConfigError {
                setting: "position",
                problem: format!("\"{other}\" is not left or right"),
            })
        }
    };
    let accent_color = raw.get("accentColor").map(str::to_string);
    if let Some(c) = &accent_color {
        let hex = c.strip_prefix('#').unwrap_or("");
        if !(hex.len() == 3 || hex.len() == 6) || !hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
            return Err(ConfigError {
                setting: "accentColor",
                problem: format!("\"{c}\" is not #rgb or #rrggbb"),
            });
        }
    }
    Ok(WidgetConfig {
        backend,
        locale: raw.get("locale").map(Locale::from_tag),
        title: raw.get("title").map(str::to_string),
        position,
        accent_color,
        open_on_load: raw.flag("open"),
        visitor: VisitorProfile {
            name: raw.get("userName").map(str::to_string),
            email: raw.get("userEmail").map(str::to_string),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawSettings {
        let mut r = RawSettings::default();
        for (k, v) in pairs {
            r.set(k, *v);
        }
        r
    }

    #[test]
    fn missing_backend_is_an_error_not_a_silent_demo() {
        let err = parse(&raw(&[])).unwrap_err();
        assert_eq!(err.setting, "backend");
    }

    #[test]
    fn demo_backend_with_defaults() {
        let c = parse(&raw(&[("backend", "demo")])).unwrap();
        assert_eq!(c.backend, BackendConfig::Demo);
        assert_eq!(c.position, Position::Right);
        assert!(!c.open_on_load);
    }

    #[test]
    fn voxsig_needs_url_and_inbox() {
        let err = parse(&raw(&[
            ("backend", "voxsig"),
            ("voxsigUrl", "https://chat.test"),
        ]))
        .unwrap_err();
        assert_eq!(err.setting, "voxsigInbox");
        let err = parse(&raw(&[
            ("backend", "voxsig"),
            ("voxsigUrl", "chat.test"),
            ("voxsigInbox", "x"),
        ]))
        .unwrap_err();
        assert_eq!(err.setting, "voxsigUrl");
        let c = parse(&raw(&[
            ("backend", "voxsig"),
            ("voxsigUrl", "https://chat.test/"),
            ("voxsigInbox", "abc"),
            ("voxsigAccountId", "7"),
        ]))
        .unwrap();
        let BackendConfig::Voxsig(v) = c.backend else {
            panic!("voxsig")
        };
        assert_eq!(v.base_url, "https://chat.test");
        assert_eq!(v.account_id, Some(7));
        assert_eq!(v.presence_interval_ms, 30_000);
    }

    #[test]
    fn malformed_values_name_their_setting() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("backend", "irc")], "backend"),
            (&[("backend", "demo"), ("position", "top")], "position"),
            (
                &[("backend", "demo"), ("accentColor", "red")],
                "accentColor",
            ),
            (
                &[
                    ("backend", "gms"),
                    ("gmsUrl", "https://g.test/cometd"),
                    ("gmsService", "s"),
                    ("gmsUserData", "[1]"),
                ],
                "gmsUserData",
            ),
            (
                &[
                    ("backend", "push"),
                    ("pushHost", "wss://p.test"),
                    ("pushChannelUuid", "u"),
                    ("pushHostApi", "ftp://x"),
                ],
                "pushHostApi",
            ),
            (
                &[
                    ("backend", "voxsig"),
                    ("voxsigUrl", "https://v.test"),
                    ("voxsigInbox", "i"),
                    ("voxsigUserId", "x"),
                ],
                "voxsigUserId",
            ),
        ];
        for (pairs, setting) in cases {
            assert_eq!(
                parse(&raw(pairs)).unwrap_err().setting,
                *setting,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn later_values_override_and_empty_means_absent() {
        let mut r = raw(&[("backend", "voxsig")]);
        r.set("backend", "demo");
        r.set("title", "  ");
        let c = parse(&r).unwrap();
        assert_eq!(c.backend, BackendConfig::Demo);
        assert_eq!(c.title, None);
    }
}
