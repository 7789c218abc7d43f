//! An embeddable chat widget: a pure protocol core (native and wasm) and, on wasm32, the
//! browser driver, reactive store, Leptos UI and the embed layer a host page talks to.

pub mod config;
pub mod core;
pub mod i18n;
pub mod state;
pub mod tabs;
pub mod text;

#[cfg(target_arch = "wasm32")]
pub mod driver;
#[cfg(target_arch = "wasm32")]
pub mod embed;
#[cfg(target_arch = "wasm32")]
pub mod store;
#[cfg(target_arch = "wasm32")]
pub mod ui;
