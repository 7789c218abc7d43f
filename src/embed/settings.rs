//! Reads raw settings from the page: the loader's copy of its `<script>` tag's `data-*`
//! attributes (`window.ChatWidget.config`), then `window.ChatWidgetSettings`, which wins.

use crate::config::RawSettings;
use crate::i18n::Locale;
use leptos::prelude::window;
use wasm_bindgen::{JsCast, JsValue};

fn copy_object(source: &JsValue, into: &mut RawSettings) {
    if !source.is_object() {
        return;
    }
    let obj: &js_sys::Object = source.unchecked_ref();
    for entry in js_sys::Object::entries(obj).iter() {
        let pair: js_sys::Array = entry.unchecked_into();
        let Some(key) = pair.get(0).as_string() else {
            continue;
        };
        let value = pair.get(1);
        let text = if let Some(s) = value.as_string() {
            s
        } else if let Some(b) = value.as_bool() {
            b.to_string()
        } else if value.as_f64().is_some() {
            // JS's own number formatting: Rust's float formatting costs ~12 KB of wasm.
            let n: &js_sys::Number = value.unchecked_ref();
            n.to_string_with_radix(10)
                .map(String::from)
                .unwrap_or_default()
        } else if value.is_object() {
            js_sys::JSON::stringify(&value)
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default()
        } else {
            continue;
        };
        into.set(&key, text);
    }
}

/// Collects the settings a host page gave.
pub fn read() -> RawSettings {
    let mut raw = RawSettings::default();
    let w = window();
    if let Ok(api) = js_sys::Reflect::get(&w, &"ChatWidget".into()) {
        if let Ok(config) = js_sys::Reflect::get(&api, &"config".into()) {
            copy_object(&config, &mut raw);
        }
    }
    if let Ok(settings) = js_sys::Reflect::get(&w, &"ChatWidgetSettings".into()) {
        copy_object(&settings, &mut raw);
    }
    raw
}

/// The browser's preferred supported language.
pub fn browser_locale() -> Locale {
    let nav = window().navigator();
    let langs: Vec<String> = nav
        .languages()
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    if langs.is_empty() {
        return nav
            .language()
            .map(|l| Locale::from_tag(&l))
            .unwrap_or(Locale::En);
    }
    Locale::from_preferences(langs.iter().map(String::as_str))
}
