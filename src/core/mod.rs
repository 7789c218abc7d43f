//! The protocol core: pure Rust, sans-IO. No web-sys, no clock, no sockets.
//!
//! Bytes and `now` go in through `handle_*`; frames, HTTP requests, deadlines and [`ChatEvent`]s
//! come out through `poll_*`. Every backend implements [`ChatBackend`], so the browser driver
//! and the UI never know which backend they run.

pub mod backend;
pub mod backoff;
pub mod demo;
pub mod event;
pub mod gms;
pub mod io;
pub mod message;
pub mod outbox;
pub mod push;
pub mod transcript;
pub mod url;
pub mod voxsig;

pub use backend::{ChatBackend, HttpMethod, HttpRequest, RequestId, SocketCommand, VisitorProfile};
pub use event::{ChatError, ChatEvent, ConnectionState, ConversationStatus, Presence};
pub use message::{
    ArticleLink, Attachment, AttachmentKind, Author, Card, CardAction, ChatMessage, Choice,
    DeliveryStatus, FieldKind, FormField, RatingAnswer, RichAnswer, RichContent, Role,
};
pub use transcript::Transcript;

/// Milliseconds on the caller's clock. The core never reads a clock itself.
pub type Millis = u64;
