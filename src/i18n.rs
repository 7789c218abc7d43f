//! User-facing strings in English and Simplified Chinese.

/// A supported UI language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locale {
    /// English.
    En,
    /// Simplified Chinese.
    ZhCn,
}

impl Locale {
    /// Picks a locale from a BCP 47 tag (`zh`, `zh-CN`, `zh-Hans`, `en-GB`…); unknown tags are English.
    pub fn from_tag(tag: &str) -> Locale {
        let lower = tag.trim().to_ascii_lowercase();
        if lower == "zh" || lower.starts_with("zh-") || lower.starts_with("zh_") {
            Locale::ZhCn
        } else {
            Locale::En
        }
    }

    /// The first supported language in the browser's preference list, else English.
    pub fn from_preferences<'a>(tags: impl IntoIterator<Item = &'a str>) -> Locale {
        tags.into_iter()
            .map(str::trim)
            .find(|t| {
                let l = t.to_ascii_lowercase();
                l.starts_with("en") || l.starts_with("zh")
            })
            .map(Locale::from_tag)
            .unwrap_or(Locale::En)
    }

    /// The BCP 47 tag to put in `lang`.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// The strings for this locale.
    pub fn strings(self) -> &'static Strings {
        match self {
            Locale::En => &EN,
            Locale::ZhCn => &ZH_CN,
        }
    }
}

/// Every fixed string the UI shows.
#[derive(Debug)]
pub struct Strings {
    /// Default header title.
    pub title: &'static str,
    /// Launcher label when closed.
    pub open_chat: &'static str,
    /// Close button label.
    pub close_chat: &'static str,
    /// Composer placeholder.
    pub placeholder: &'static str,
    /// Send button label.
    pub send: &'static str,
    /// Composer label for screen readers.
    pub message_input: &'static str,
    /// Message list label.
    pub conversation: &'static str,
    /// Presence: online.
    pub online: &'static str,
    /// Presence: away.
    pub away: &'static str,
    /// Presence: offline.
    pub offline: &'static str,
    /// Banner: connecting.
    pub connecting: &'static str,
    /// Banner: reconnecting (seconds follow).
    pub reconnecting_in: &'static str,
    /// Banner: reconnecting now.
    pub reconnecting_now: &'static str,
    /// Banner: offline.
    pub you_are_offline: &'static str,
    /// Banner: conversation over.
    pub conversation_ended: &'static str,
    /// Button to start again.
    pub start_new: &'static str,
    /// Button to end the chat.
    pub end_chat: &'static str,
    /// Composer disabled while not connected; messages wait.
    pub will_send_when_online: &'static str,
    /// Composer disabled because of a configuration error.
    pub unavailable: &'static str,
    /// "is typing" suffix.
    pub is_typing: &'static str,
    /// An agent (no name known).
    pub agent: &'static str,
    /// Delivery: pending.
    pub status_pending: &'static str,
    /// Delivery: sent.
    pub status_sent: &'static str,
    /// Delivery: delivered.
    pub status_delivered: &'static str,
    /// Delivery: read.
    pub status_read: &'static str,
    /// Delivery: failed.
    pub status_failed: &'static str,
    /// Retry button.
    pub retry: &'static str,
    /// Notice after a gap in which replies may have been lost; `{s}` is the seconds.
    pub missed_while_offline: &'static str,
    /// Date separator: today.
    pub today: &'static str,
    /// Date separator: yesterday.
    pub yesterday: &'static str,
    /// Unread badge label (count follows).
    pub unread: &'static str,
    /// New message announcement prefix.
    pub new_message_from: &'static str,
    /// Jump to latest button.
    pub jump_to_latest: &'static str,
    /// Button above the shown messages of a long conversation (count follows).
    pub show_earlier: &'static str,
    /// Demo mode badge.
    pub demo_mode: &'static str,
    /// You (visitor) label.
    pub you: &'static str,
    /// Shown in an empty conversation.
    pub welcome: &'static str,
    /// Composer note when the agent resolved the conversation.
    pub resolved_notice: &'static str,
    /// Label of a group of bot options.
    pub options: &'static str,
    /// Label of a list of help-centre articles.
    pub articles: &'static str,
    /// Label of a group of cards.
    pub cards: &'static str,
    /// Screen-reader hint after a link that opens a new tab.
    pub opens_in_new_tab: &'static str,
    /// Before the visitor's answer to options or a form.
    pub your_answer: &'static str,
    /// Shown while an answer is on its way.
    pub answer_sending: &'static str,
    /// Shown when the server refused an answer.
    pub answer_refused: &'static str,
    /// Form submit button.
    pub submit: &'static str,
    /// Form error: a required field is empty.
    pub field_required: &'static str,
    /// Form error: not an email address.
    pub field_invalid_email: &'static str,
    /// Rating control label.
    pub rate_conversation: &'static str,
    /// The five rating levels, worst first.
    pub rating_levels: [&'static str; 5],
    /// Rating comment field label.
    pub rating_comment: &'static str,
    /// Shown after the rating was sent.
    pub rating_thanks: &'static str,
    /// Before the rating given.
    pub your_rating: &'static str,
}

static EN: Strings = Strings {
    title: "Chat with us",
    open_chat: "Open chat",
    close_chat: "Close chat",
    placeholder: "Type a message…",
    send: "Send",
    message_input: "Message",
    conversation: "Conversation",
    online: "Online",
    away: "Away",
    offline: "Offline",
    connecting: "Connecting…",
    reconnecting_in: "Connection lost. Reconnecting in",
    reconnecting_now: "Reconnecting…",
    you_are_offline: "You are offline. Messages will be sent when you are back.",
    conversation_ended: "This conversation has ended.",
    start_new: "Start a new conversation",
    end_chat: "End chat",
    will_send_when_online: "Messages will be sent when the connection is back.",
    unavailable: "Chat is unavailable",
    is_typing: "is typing…",
    agent: "Agent",
    status_pending: "Sending…",
    status_sent: "Sent",
    status_delivered: "Delivered",
    status_read: "Read",
    status_failed: "Not sent",
    retry: "Retry",
    missed_while_offline: "You were offline for {s} s — some replies may not be shown.",
    today: "Today",
    yesterday: "Yesterday",
    unread: "unread messages",
    new_message_from: "New message from",
    jump_to_latest: "Jump to latest",
    show_earlier: "Show earlier messages",
    demo_mode: "Demo mode: a scripted conversation, no real agent.",
    you: "You",
    welcome: "Hi! Ask us anything. We usually answer within a few minutes.",
    resolved_notice: "This conversation was marked as resolved. Write a message to reopen it.",
    options: "Options",
    articles: "Articles",
    cards: "Suggestions",
    opens_in_new_tab: "(opens in a new tab)",
    your_answer: "Your answer:",
    answer_sending: "Sending your answer…",
    answer_refused: "Your answer could not be sent. Please try again.",
    submit: "Submit",
    field_required: "Please fill in this field.",
    field_invalid_email: "Please enter a valid email address.",
    rate_conversation: "Rate this conversation",
    rating_levels: [
        "Very dissatisfied",
        "Dissatisfied",
        "Neutral",
        "Satisfied",
        "Very satisfied",
    ],
    rating_comment: "Tell us more (optional)",
    rating_thanks: "Thanks for your feedback!",
    your_rating: "Your rating:",
};

static ZH_CN: Strings = Strings {
    title: "在线咨询",
    open_chat: "打开聊天",
    close_chat: "关闭聊天",
    placeholder: "输入消息…",
    send: "发送",
    message_input: "消息",
    conversation: "对话",
    online: "在线",
    away: "离开",
    offline: "离线",
    connecting: "正在连接…",
    reconnecting_in: "连接已断开，重新连接倒计时",
    reconnecting_now: "正在重新连接…",
    you_are_offline: "您已离线。恢复联网后将发送消息。",
    conversation_ended: "对话已结束。",
    start_new: "开始新的对话",
    end_chat: "结束对话",
    will_send_when_online: "连接恢复后将发送消息。",
    unavailable: "聊天暂不可用",
    is_typing: "正在输入…",
    agent: "客服",
    status_pending: "发送中…",
    status_sent: "已发送",
    status_delivered: "已送达",
    status_read: "已读",
    status_failed: "发送失败",
    retry: "重试",
    missed_while_offline: "您离线了 {s} 秒，部分回复可能无法显示。",
    today: "今天",
    yesterday: "昨天",
    unread: "条未读消息",
    new_message_from: "新消息来自",
    jump_to_latest: "跳到最新",
    show_earlier: "显示更早的消息",
    demo_mode: "演示模式：脚本对话，没有真实客服。",
    you: "您",
    welcome: "您好！有任何问题都可以问我们，我们通常会在几分钟内回复。",
    resolved_notice: "此对话已标记为已解决。发送消息即可重新打开。",
    options: "选项",
    articles: "相关文章",
    cards: "推荐",
    opens_in_new_tab: "（在新标签页中打开）",
    your_answer: "您的回答：",
    answer_sending: "正在发送您的回答…",
    answer_refused: "您的回答未能发送，请重试。",
    submit: "提交",
    field_required: "请填写此项。",
    field_invalid_email: "请输入有效的电子邮件地址。",
    rate_conversation: "为本次对话评分",
    rating_levels: ["非常不满意", "不满意", "一般", "满意", "非常满意"],
    rating_comment: "补充说明（可选）",
    rating_thanks: "感谢您的反馈！",
    your_rating: "您的评分：",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_chinese_for_any_zh_tag() {
        for tag in ["zh", "zh-CN", "zh-Hans", "ZH_cn"] {
            assert_eq!(Locale::from_tag(tag), Locale::ZhCn, "{tag}");
        }
        assert_eq!(Locale::from_tag("fr"), Locale::En);
    }

    #[test]
    fn browser_preferences_take_the_first_supported() {
        assert_eq!(
            Locale::from_preferences(["de-DE", "zh-CN", "en"]),
            Locale::ZhCn
        );
        assert_eq!(Locale::from_preferences(["de-DE", "fr"]), Locale::En);
        assert_eq!(Locale::from_preferences(["en-GB", "zh"]), Locale::En);
    }

    #[test]
    fn both_locales_fill_every_string() {
        for locale in [Locale::En, Locale::ZhCn] {
            let s = format!("{:?}", locale.strings());
            assert!(!s.contains(": \"\""), "{locale:?} has an empty string");
        }
    }
}
