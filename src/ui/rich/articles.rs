//! Help-centre articles (`article`): a list of links that open in a new tab.

use crate::core::message::safe_url;
use crate::core::ArticleLink;
use crate::ui::use_store;
use leptos::prelude::*;

/// A list of article links.
#[component]
pub fn Articles(articles: Vec<ArticleLink>) -> impl IntoView {
    let store = use_store();
    view! {
        <ul class="cw-articles" aria-label=move || store.strings().articles>
            {articles
                .into_iter()
                .map(|a| {
                    let body = view! {
                        <span class="cw-article-title">{a.title}</span>
                        {(!a.description.is_empty())
                            .then(|| view! { <span class="cw-article-desc">{a.description}</span> })}
                    };
                    let item = match safe_url(&a.url) {
                        Some(url) => view! {
                            <a class="cw-article" href=url target="_blank" rel="noopener noreferrer">
                                {body}
                                <span class="cw-sr-only">" " {move || store.strings().opens_in_new_tab}</span>
                            </a>
                        }
                        .into_any(),
                        None => view! { <div class="cw-article">{body}</div> }.into_any(),
                    };
                    view! { <li>{item}</li> }
                })
                .collect_view()}
        </ul>
    }
}
